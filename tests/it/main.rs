//! The one integration-test binary (each test binary links all of DuckDB, so there is only one).
//! Every test runs the real `midnet` binary against real files and DuckDB databases in a
//! temporary directory.

mod architecture;
mod audit;
mod browser;
mod center;
mod common;
mod crash;
mod demo;
mod dpc;
mod export;
mod export_requests;
mod extract;
mod gate_attacks;
mod help;
mod json_results;
mod link;
mod mapping;
mod masters;
mod migration;
mod mishaps;
mod network;
mod network_attacks;
mod network_faults;
mod network_https;
mod network_keys;
mod owner_only;
mod privilege;
mod progress;
mod project_inputs;
mod projects;
mod protocol;
mod receipt;
mod reference;
mod script;
mod signal;
mod site;
mod spark;
mod spark_site;
mod ssmix2;
mod stats;
mod surveillance;
