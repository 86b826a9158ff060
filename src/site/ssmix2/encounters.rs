//! A patient's encounters from all of their current ADT messages: outpatient visits (ADT^A04) one
//! each; inpatient stays paired from admissions (ADT^A01) and discharges (ADT^A03) after their
//! cancellations (A11, A13) are applied; a discharge ends the admission its PV1-44 names, else
//! the open one before it. A cancellation takes back the event of the same time
//! (PV1-44 of an admission, PV1-45 of a discharge), and nothing when there is none. A discharge with
//! no open admission before it is unmatched: quarantined at its segment. An admission not yet
//! discharged is a stay whose end is its start until its discharge comes.

use super::read::{EncounterEvent, EncounterKind};

/// An event and where it was read.
#[derive(Debug, Clone)]
pub struct Placed<'a> {
    pub event: &'a EncounterEvent,
    /// The index of its file among the files read.
    pub file: usize,
    pub segment: usize,
}

/// One encounter: its first event (a visit or an admission) and, for a stay, its discharge.
#[derive(Debug)]
pub struct Encounter<'a> {
    pub start: Placed<'a>,
    pub discharge: Option<Placed<'a>>,
}

/// The encounters of one patient's events, and the discharges no admission pairs with.
pub fn pair<'a>(mut events: Vec<Placed<'a>>) -> (Vec<Encounter<'a>>, Vec<Placed<'a>>) {
    events.sort_by_key(|p| (p.event.time, order(p.event.event)));
    let mut admissions: Vec<Placed> = Vec::new();
    let mut discharges: Vec<Placed> = Vec::new();
    let mut encounters = Vec::new();
    for placed in events {
        match placed.event.event {
            EncounterKind::Visit => encounters.push(Encounter { start: placed, discharge: None }),
            EncounterKind::Admission => admissions.push(placed),
            EncounterKind::Discharge => discharges.push(placed),
            EncounterKind::AdmissionCancelled => cancel(&mut admissions, &placed),
            EncounterKind::DischargeCancelled => cancel(&mut discharges, &placed),
        }
    }
    // A discharge that names its admission (PV1-44) ends that one; the others pair in time order.
    let mut unnamed = Vec::new();
    for discharge in discharges {
        match admissions.iter().position(|a| Some(a.event.time) == discharge.event.admitted) {
            Some(at) => encounters.push(Encounter { start: admissions.remove(at), discharge: Some(discharge) }),
            None => unnamed.push(discharge),
        }
    }
    let mut stays: Vec<Placed> = admissions.into_iter().chain(unnamed).collect();
    stays.sort_by_key(|p| (p.event.time, order(p.event.event)));
    let mut open: Option<Placed> = None;
    let mut unmatched = Vec::new();
    for placed in stays {
        match (placed.event.event, open.take()) {
            (EncounterKind::Admission, earlier) => {
                // Two admissions with no discharge between: the first stays open-ended.
                if let Some(earlier) = earlier {
                    encounters.push(Encounter { start: earlier, discharge: None });
                }
                open = Some(placed);
            }
            (_, Some(admission)) => encounters.push(Encounter { start: admission, discharge: Some(placed) }),
            (_, None) => unmatched.push(placed),
        }
    }
    if let Some(admission) = open {
        encounters.push(Encounter { start: admission, discharge: None });
    }
    encounters.sort_by_key(|e| (e.start.event.time, e.start.file, e.start.segment));
    (encounters, unmatched)
}

/// Of events at one time, admissions first, discharges last, cancellations after what they cancel.
fn order(kind: EncounterKind) -> u8 {
    match kind {
        EncounterKind::Visit | EncounterKind::Admission => 0,
        EncounterKind::AdmissionCancelled => 1,
        EncounterKind::Discharge => 2,
        EncounterKind::DischargeCancelled => 3,
    }
}

/// Take back the event of the cancellation's time. With none (the cancelled event's own file was
/// superseded by the cancellation, as an A11 replaces its A01 under one key) there is nothing to
/// take back: an earlier event is never taken for it.
fn cancel(events: &mut Vec<Placed>, cancellation: &Placed) {
    if let Some(at) = events.iter().rposition(|p| p.event.time == cancellation.event.time) {
        events.remove(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn event(kind: EncounterKind, day: u32) -> EncounterEvent {
        EncounterEvent {
            event: kind,
            time: NaiveDate::from_ymd_opt(2024, 4, day).unwrap().and_hms_opt(10, 0, 0).unwrap(),
            department: None,
            discharge_destination: None,
            admitted: None,
        }
    }

    fn placed(events: &[EncounterEvent]) -> Vec<Placed<'_>> {
        events.iter().enumerate().map(|(file, event)| Placed { event, file, segment: 3 }).collect()
    }

    fn days(encounters: &[Encounter]) -> Vec<(u32, Option<u32>)> {
        use chrono::Datelike;
        encounters
            .iter()
            .map(|e| (e.start.event.time.day(), e.discharge.as_ref().map(|d| d.event.time.day())))
            .collect()
    }

    #[test]
    fn admissions_pair_with_discharges_after_cancellations() {
        use EncounterKind::*;
        let events = [
            event(Admission, 1),
            event(Admission, 3),
            event(AdmissionCancelled, 3),
            event(Discharge, 5),
            event(Discharge, 6),
            event(DischargeCancelled, 5),
            event(Visit, 10),
            event(Admission, 20),
        ];
        let (encounters, unmatched) = pair(placed(&events));
        assert_eq!(days(&encounters), [(1, Some(6)), (10, None), (20, None)]);
        assert!(unmatched.is_empty());
    }

    #[test]
    fn a_discharge_ends_the_admission_it_names_on_a_day_of_readmission() {
        use EncounterKind::*;
        // Discharged at 11:00 on the 5th, readmitted at 10:00 the same day (times as some systems
        // write them): each discharge names its admission.
        let at = |day: u32, hour: u32| NaiveDate::from_ymd_opt(2024, 4, day).unwrap().and_hms_opt(hour, 0, 0).unwrap();
        let discharge = |day, admitted| EncounterEvent {
            event: Discharge,
            time: at(day, 11),
            department: None,
            discharge_destination: None,
            admitted: Some(admitted),
        };
        let mut events = vec![event(Admission, 1), event(Admission, 5)];
        events.push(discharge(5, at(1, 10)));
        events.push(discharge(9, at(5, 10)));
        let (encounters, unmatched) = pair(placed(&events));
        assert_eq!(days(&encounters), [(1, Some(5)), (5, Some(9))]);
        assert!(unmatched.is_empty());
    }

    #[test]
    fn a_cancellation_of_nothing_current_takes_back_nothing() {
        use EncounterKind::*;
        let events = [event(Admission, 1), event(Discharge, 5), event(AdmissionCancelled, 9)];
        let (encounters, _) = pair(placed(&events));
        assert_eq!(days(&encounters), [(1, Some(5))]);
    }

    #[test]
    fn a_discharge_without_an_admission_is_unmatched() {
        use EncounterKind::*;
        let events = [event(Discharge, 2), event(Admission, 4), event(Discharge, 8), event(Discharge, 9)];
        let (encounters, unmatched) = pair(placed(&events));
        assert_eq!(days(&encounters), [(4, Some(8))]);
        let files: Vec<usize> = unmatched.iter().map(|p| p.file).collect();
        assert_eq!(files, [0, 3]);
    }
}
