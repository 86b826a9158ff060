//! Attacks on the export gate, one test per class of hole (issue 15): each ran against the gate
//! before its fix and got through.

mod statistics;
