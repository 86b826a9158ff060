//! A hospital's claims (issue 21): the monthly レセプト電算処理システム file `RECEIPTC.UKE` (医科),
//! read record by record ([`uke`]) with the dates of both the current specification and the
//! era-coded older one ([`era`]), and imported into the site's data source as CLAIMS rows
//! ([`import`]: `midnet site import receipt`). DPC's files are `site::dpc`.

pub mod era;
pub mod import;
pub mod uke;
