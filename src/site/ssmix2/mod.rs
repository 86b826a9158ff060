//! Reading a hospital's SS-MIX2 standardized storage (issue 20): the storage's tree of files
//! ([`storage`]) and the HL7 v2.5 messages in them ([`hl7`]).
//!
//! Only the reading is built so far; turning messages into the site's rows (patients,
//! encounters, diagnoses, drugs, lab results) and the incremental import are not (docs/site-inputs.md).

pub mod hl7;
pub mod read;
pub mod storage;
