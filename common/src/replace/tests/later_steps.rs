//! The outcome table's last steps: retire (revoked or deactivated),
//! confirm, clean up.

use super::*;

// --- retire ---------------------------------------------------------------

#[test]
fn a_refused_retirement_exits_3_naming_what_is_still_valid() {
    for deactivates in [false, true] {
        let _g = guard();
        let mut svc = Service {
            deactivates,
            ..service(&["A", "OLD"])
        };
        svc.revoke
            .push_back(("A".into(), Err(Failure::Definite("AccessDenied".into()))));
        let mut rec = Record::default();
        let result = run(
            &mut svc,
            &mut rec,
            &plan(&["A", "OLD"], None, &["A", "OLD"]),
        );
        assert_eq!(exit_of(&result), Exit::OldNotRetired, "{deactivates}");
        assert_names(&result, &["A", "OLD", "NEW1"]);
    }
}

/// The scripted service applies a retirement whose answer is lost: the
/// listing no longer shows it.
#[test]
fn a_lost_retirement_answer_is_settled_by_the_listing_that_no_longer_shows_it() {
    for deactivates in [false, true] {
        let _g = guard();
        let mut svc = Service {
            deactivates,
            ..service(&["A", "OLD"])
        };
        svc.revoke
            .push_back(("A".into(), Err(Failure::Unknown("timeout".into()))));
        let mut rec = Record::default();
        let result = run(
            &mut svc,
            &mut rec,
            &plan(&["A", "OLD"], None, &["A", "OLD"]),
        );
        assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
        let replaced = result.unwrap();
        assert_eq!(replaced.removed, ["A", "OLD"]);
        if deactivates {
            assert_eq!(replaced.deactivated, ["A", "OLD"]);
        }
    }
}

#[test]
fn a_lost_retirement_answer_with_the_credential_still_listed_exits_3() {
    for deactivates in [false, true] {
        let _g = guard();
        let mut svc = Service {
            deactivates,
            ..service(&["A", "OLD"])
        };
        svc.revoke
            .push_back(("A".into(), Err(Failure::Unknown("timeout".into()))));
        // Not applied after all: listed as valid on every read.
        for _ in 0..2 {
            svc.list
                .push_back(Ok(vec!["A".into(), "OLD".into(), "NEW1".into()]));
        }
        let mut rec = Record::default();
        let result = run(
            &mut svc,
            &mut rec,
            &plan(&["A", "OLD"], None, &["A", "OLD"]),
        );
        assert_eq!(exit_of(&result), Exit::OldNotRetired, "{}", text(&result));
        assert_names(&result, &["still lists it as valid", "Still valid: A, OLD"]);
        assert!(
            !svc.revoked.contains(&"OLD".to_owned()),
            "the rest are kept"
        );
    }
}

#[test]
fn a_lost_retirement_answer_whose_listing_cannot_be_read_exits_4_naming_both() {
    for deactivates in [false, true] {
        let _g = guard();
        let mut svc = Service {
            deactivates,
            ..service(&["OLD"])
        };
        svc.revoke
            .push_back(("OLD".into(), Err(Failure::Unknown("timeout".into()))));
        svc.list
            .push_back(Err(Failure::Unknown("listing timed out".into())));
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::NeedsAttention, "{}", text(&result));
        assert_names(&result, &["OLD", "NEW1", "may be valid or not"]);
    }
}

#[test]
fn completing_an_interrupted_replacement_retires_what_it_left_and_creates_nothing() {
    let _g = guard();
    let mut svc = Service {
        deactivates: true,
        ..service(&["OLD", "STORED"])
    };
    let mut rec = Record {
        holds: Some("STORED".into()),
        ..Record::default()
    };
    let verify = Verify {
        successes: 2,
        interval: Duration::from_millis(1),
        timeout: Duration::from_millis(50),
    };
    let deadline = Deadline::after(Duration::from_secs(30));
    let checks = Checks {
        verify: &verify,
        deadline: &deadline,
        reserve: Duration::ZERO,
    };
    let plan = plan(&["OLD", "STORED"], None, &["OLD"]);
    let done = complete(&mut svc, &mut rec, &plan, checks, &"STORED".to_owned()).unwrap();
    assert_eq!(done.new, "STORED");
    assert_eq!(done.deactivated, ["OLD"]);
    assert_eq!(svc.next, 0, "nothing created");
    assert_eq!(svc.revoked, ["OLD"]);
    // The record moved on meanwhile: nothing is retired.
    let mut svc = Service {
        deactivates: true,
        ..service(&["OLD", "STORED"])
    };
    let mut rec = Record {
        holds: Some("ELSE".into()),
        ..Record::default()
    };
    let result = complete(&mut svc, &mut rec, &plan, checks, &"STORED".to_owned());
    assert_eq!(result.map(|_| ()).unwrap_err().exit(), Exit::NeedsAttention);
    assert!(svc.revoked.is_empty());
}

#[test]
fn a_refused_deactivation_exits_3_and_a_deactivated_one_is_reported_as_such() {
    let _g = guard();
    let mut svc = Service {
        deactivates: true,
        ..service(&["A", "OLD"])
    };
    svc.revoke
        .push_back(("A".into(), Err(Failure::Definite("AccessDenied".into()))));
    let mut rec = Record::default();
    let result = run(
        &mut svc,
        &mut rec,
        &plan(&["A", "OLD"], None, &["A", "OLD"]),
    );
    assert_eq!(exit_of(&result), Exit::OldNotRetired);
    assert!(
        text(&result).contains("deactivating old key A failed"),
        "{}",
        text(&result)
    );

    let mut svc = Service {
        deactivates: true,
        ..service(&["OLD"])
    };
    let result = run(
        &mut svc,
        &mut Record::default(),
        &plan(&["OLD"], None, &["OLD"]),
    );
    let replaced = result.unwrap();
    assert_eq!(replaced.removed, ["OLD"]);
    assert_eq!(replaced.deactivated, ["OLD"]);
}

#[test]
fn a_refused_deactivation_tells_to_deactivate_not_to_revoke() {
    let _g = guard();
    let mut svc = Service {
        deactivates: true,
        ..service(&["OLD"])
    };
    svc.revoke
        .push_back(("OLD".into(), Err(Failure::Definite("AccessDenied".into()))));
    let result = run(
        &mut svc,
        &mut Record::default(),
        &plan(&["OLD"], None, &["OLD"]),
    );
    assert_eq!(exit_of(&result), Exit::OldNotRetired);
    let text = text(&result);
    assert!(
        text.contains("Deactivate it once nothing uses it"),
        "{text}"
    );
    assert!(!text.contains("Revoke"), "{text}");
}

/// A retirement settled on a listing was never acknowledged: when the final
/// listing then fails, the note must not claim it was.
#[test]
fn a_failed_final_listing_after_a_settled_retirement_does_not_claim_every_one_was_acknowledged() {
    for deactivates in [false, true] {
        let _g = guard();
        let mut svc = Service {
            deactivates,
            ..service(&["OLD"])
        };
        svc.revoke
            .push_back(("OLD".into(), Err(Failure::Unknown("timeout".into()))));
        // The listing that settles it, then the final one, which fails.
        svc.list.push_back(Ok(vec!["NEW1".into()]));
        svc.list
            .push_back(Err(Failure::Unknown("listing timed out".into())));
        let result = run(
            &mut svc,
            &mut Record::default(),
            &plan(&["OLD"], None, &["OLD"]),
        );
        assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
        let notes = result.unwrap().notes.join("\n");
        assert!(
            !notes.contains("every revocation had been acknowledged"),
            "{notes}"
        );
        assert!(
            !notes.contains("every deactivation had been acknowledged"),
            "{notes}"
        );
        assert!(
            notes.contains("of OLD got no answer and was settled by an earlier listing"),
            "{notes}"
        );
    }
}

#[test]
fn a_credential_created_after_the_first_listing_is_never_retired() {
    let _g = guard();
    let mut svc = service(&["OLD", "OTHER_RUNS"]);
    let mut rec = Record::default();
    let result = run(
        &mut svc,
        &mut rec,
        &plan(&["OLD"], None, &["OTHER_RUNS", "OLD"]),
    );
    assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
    assert_eq!(svc.revoked, ["OLD"]);
    let replaced = result.unwrap();
    assert!(replaced.notes.iter().any(|n| n.contains("OTHER_RUNS")));
}

// --- confirm --------------------------------------------------------------

#[test]
fn a_failed_confirmation_after_a_completed_rotation_is_not_a_failure() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.list
        .push_back(Err(Failure::Definite("ServiceFailure".into())));
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
    assert!(!result.unwrap().notes.is_empty());
}

#[test]
fn a_lagging_listing_is_read_again_until_it_settles() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.list.push_back(Ok(vec!["OLD".into(), "NEW1".into()]));
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
}

#[test]
fn a_revoked_credential_still_listed_after_settling_exits_3() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    for _ in 0..2 {
        svc.list.push_back(Ok(vec!["OLD".into(), "NEW1".into()]));
    }
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::OldNotRetired);
    assert_names(&result, &["OLD"]);
    // The summary line says so too: OLD is left, not retired.
    let (retired, left) = crate::summary::retired_and_left_for_test();
    assert!(!retired.contains(&"OLD".to_owned()), "{retired:?}");
    assert_eq!(left, ["OLD"]);
}

#[test]
fn a_revoked_credential_the_service_still_accepts_exits_3() {
    struct Stubborn(Service);
    impl Credentials for Stubborn {
        type New = String;
        fn noun(&self) -> &'static str {
            self.0.noun()
        }
        fn holder(&self) -> String {
            self.0.holder()
        }
        fn id(new: &String) -> &str {
            new
        }
        fn create(&mut self) -> Step<String> {
            self.0.create()
        }
        fn find_created(&mut self, before: &[String]) -> Step<Found> {
            self.0.find_created(before)
        }
        fn revoke(&mut self, id: &str) -> Step<()> {
            self.0.revoke(id)
        }
        fn probe(&mut self, new: &String) -> std::result::Result<(), String> {
            self.0.probe(new)
        }
        fn list(&mut self) -> Step<Vec<String>> {
            self.0.list()
        }
        fn still_accepted(&mut self, retired: &[String]) -> Step<Vec<String>> {
            Ok(retired.to_vec())
        }
        fn settle(&self) -> (u32, Duration) {
            self.0.settle()
        }
    }
    let _g = guard();
    let mut svc = Stubborn(service(&["OLD"]));
    let mut rec = Record::default();
    let verify = Verify {
        successes: 1,
        interval: Duration::from_millis(1),
        timeout: Duration::from_millis(50),
    };
    let deadline = Deadline::after(Duration::from_secs(30));
    let checks = Checks {
        verify: &verify,
        deadline: &deadline,
        reserve: Duration::ZERO,
    };
    let result = replace(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]), checks);
    assert_eq!(exit_of(&result), Exit::OldNotRetired);
    assert_names(&result, &["OLD", "still accepted"]);
    let (retired, left) = crate::summary::retired_and_left_for_test();
    assert!(!retired.contains(&"OLD".to_owned()), "{retired:?}");
    assert_eq!(left, ["OLD"]);
}

// --- clean up -------------------------------------------------------------

#[test]
fn a_second_copy_of_the_create_is_revoked_and_the_run_exits_0() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.applied_twice = true;
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
    assert_eq!(svc.live, ["NEW1"]);
    assert_eq!(svc.revoked, ["OLD", "NEW1-TWIN"]);
    assert!(result.unwrap().notes.is_empty());
}

#[test]
fn a_second_copy_of_the_create_that_cannot_be_revoked_exits_3_naming_it() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.applied_twice = true;
    svc.revoke.push_back((
        "NEW1-TWIN".into(),
        Err(Failure::Definite("Authorization_RequestDenied".into())),
    ));
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::OldNotRetired, "{}", text(&result));
    assert_names(&result, &["NEW1-TWIN", "NEW1"]);
}

#[test]
fn a_new_credential_missing_from_the_final_listing_exits_4() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    for _ in 0..2 {
        svc.list.push_back(Ok(vec![]));
    }
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::NeedsAttention);
    assert_names(&result, &["NEW1"]);
}
