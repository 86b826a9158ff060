//! Reading a hospital's claims (issue 21): the monthly レセプト電算処理システム file `RECEIPTC.UKE`
//! (医科), record by record ([`uke`]), with the dates of both the current specification and the
//! era-coded older one ([`era`]).
//!
//! Only the reading is built so far; turning receipts into the site's rows (through the masters,
//! one diagnosis across the months that repeat it, one patient across sources) and the incremental
//! import are not (docs/claims.md).

pub mod era;
pub mod uke;
