//! Authentication service and the replicated user register.
