//! `midnet`: the data center of a medical information database network, in one binary.
//!
//! Data flow one way (ARCHITECTURE.md has the map):
//! synthetic or real site data ([`synth`]) → site data source ([`site`], schema in [`schema`]) →
//! script ([`script`]) → query model ([`query`]) → SQL ([`sql`]) → site extraction ([`extract`]) →
//! project work area ([`project`]) → statistics ([`stats`], [`signal`]) → export gate ([`export`]) →
//! released statistics. The data center's home, users and roles ([`center`]) and the audit trail
//! ([`audit`]) cut across.

pub mod audit;
pub mod center;
pub mod chain;
pub mod cli;
pub mod clock;
pub mod crash;
pub mod digest;
pub mod error;
pub mod export;
pub mod extract;
pub mod https;
pub mod progress;
pub mod project;
pub mod protocol;
pub mod query;
pub mod report;
pub mod schema;
pub mod script;
pub mod signal;
pub mod site;
pub mod spark;
pub mod sql;
pub mod stats;
pub mod store;
pub mod synth;
pub mod table;
pub mod wire;
pub mod withhold;
pub mod workbench;

pub use error::{Error, Result};
