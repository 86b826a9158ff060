//! Extraction scripts: the command line (`cli`), the language reference's examples as spec tests
//! (`spec`), and differential property tests of the compiled SQL against the reference evaluator
//! (`props`), on site databases built in memory (`support`); the SQL dialects' quoting and the
//! dialects the generator is tested with (`dialect`).

mod cli;
mod dialect;
mod props;
mod spec;
pub mod support;
