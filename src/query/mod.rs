//! The query model a script compiles to ([`model`]), the tables it reads ([`tables`]), values
//! ([`value`]), and the reference evaluator ([`eval`]) that runs the model without SQL, against
//! which the SQL generator is tested.

pub mod eval;
pub mod model;
pub mod tables;
pub mod value;
