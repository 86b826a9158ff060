//! Reading a hospital's SS-MIX2 standardized storage (issue 20): the storage's tree of files
//! ([`storage`]), the HL7 v2.5 messages in them ([`hl7`]), what each message says ([`read`]), and
//! `midnet site import ss-mix2` ([`import`]): the rows each record becomes ([`rows`]), a patient's
//! encounters paired over their ADT messages ([`encounters`]), their EHR observation period
//! ([`observation`]). Every reason a message is
//! quarantined with is in `load::reasons::hl7`, where the quarantine's listing reads it.

mod encounters;
pub mod hl7;
pub mod import;
mod observation;
pub mod read;
mod rows;
mod scratch;
pub mod storage;
