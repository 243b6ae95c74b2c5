//! Authentication service and the replicated user register.

pub mod register;
