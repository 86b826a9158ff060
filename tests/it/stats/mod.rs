//! `midnet stats`: reference values, output formats, bad input, and properties of the library.

mod bad_input;
mod formats;
mod properties;
mod reference;
