//! Authentication service and the replicated user register.

pub mod accounts;
pub mod register;
pub mod register_node;
