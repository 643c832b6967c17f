//! The outcome table: every step × success / definite failure / unknown,
//! against a scripted service and store, asserting the exit code and
//! that the message names what the operator must act on.

use super::*;
use crate::error::Exit;
use std::collections::VecDeque;

/// A scripted service: live credentials, and queued outcomes per step.
#[derive(Default)]
struct Service {
    live: Vec<String>,
    /// What this run's creates made (what a tag would prove).
    made: Vec<String>,
    /// A create the service applies twice (resent after an error that
    /// followed the change): one more credential nobody knows.
    applied_twice: bool,
    next: u32,
    create: VecDeque<Step<()>>,
    /// What a lost create actually did (whether a credential exists).
    lost_create_made_one: bool,
    find: Option<Step<Found>>,
    revoke: VecDeque<(String, Step<()>)>,
    probe_fails: bool,
    early_verify: bool,
    before_retire: Option<Failure>,
    list: VecDeque<Step<Vec<String>>>,
    /// What the messages call a credential; "key" when empty.
    noun: &'static str,
    /// Step 7 deactivates instead of revoking (scripted like `revoke`).
    deactivates: bool,
    revoked: Vec<String>,
}

impl Credentials for Service {
    type New = String;

    fn noun(&self) -> &'static str {
        if self.noun.is_empty() {
            "key"
        } else {
            self.noun
        }
    }
    fn holder(&self) -> String {
        "user 'alice'".into()
    }
    fn id(new: &String) -> &str {
        new
    }
    fn create(&mut self) -> Step<String> {
        self.next += 1;
        let id = format!("NEW{}", self.next);
        match self.create.pop_front().unwrap_or(Ok(())) {
            Ok(()) => {
                if self.applied_twice {
                    let twin = format!("{id}-TWIN");
                    self.live.push(twin.clone());
                    self.made.push(twin);
                }
                self.live.push(id.clone());
                self.made.push(id.clone());
                Ok(id)
            }
            Err(Failure::Unknown(e)) => {
                if self.lost_create_made_one {
                    self.live.push(id.clone());
                    self.made.push(id);
                }
                Err(Failure::Unknown(e))
            }
            Err(definite) => Err(definite),
        }
    }
    fn find_created(&mut self, before: &[String]) -> Step<Found> {
        self.find.clone().unwrap_or_else(|| {
            Ok(Found::Ours(
                self.live
                    .iter()
                    .filter(|i| !before.contains(i) && self.made.contains(i))
                    .cloned()
                    .collect(),
            ))
        })
    }
    fn revoke(&mut self, id: &str) -> Step<()> {
        if let Some(pos) = self.revoke.iter().position(|(i, _)| i == id) {
            let outcome = self.revoke.remove(pos).map_or(Ok(()), |(_, o)| o);
            if let Err(Failure::Definite(_)) = outcome {
                return outcome;
            }
            self.live.retain(|l| l != id);
            self.revoked.push(id.into());
            return outcome;
        }
        self.live.retain(|l| l != id);
        self.revoked.push(id.into());
        Ok(())
    }
    fn retirement(&self) -> Retirement {
        if self.deactivates {
            Retirement::Deactivate
        } else {
            Retirement::Revoke
        }
    }
    fn probe(&mut self, _new: &String) -> std::result::Result<(), String> {
        if self.probe_fails {
            Err("InvalidClientTokenId".into())
        } else {
            Ok(())
        }
    }
    fn list(&mut self) -> Step<Vec<String>> {
        self.list
            .pop_front()
            .unwrap_or_else(|| Ok(self.live.clone()))
    }
    fn verify_before_store(&self) -> bool {
        self.early_verify
    }
    fn before_retire(&mut self, _new: &String) -> Step<()> {
        match self.before_retire.clone() {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }
    fn settle(&self) -> (u32, Duration) {
        (2, Duration::from_millis(1))
    }
}

/// A scripted record.
struct Record {
    holds: Option<String>,
    save: Step<()>,
    /// What an unknown save actually did.
    unknown_save_landed: bool,
    reread: Option<Step<Option<String>>>,
    /// What the record says is left to do (the lease's record).
    progress: Option<Progress>,
}

impl Default for Record {
    fn default() -> Self {
        Self {
            holds: Some("OLD".into()),
            save: Ok(()),
            unknown_save_landed: false,
            reread: None,
            progress: None,
        }
    }
}

impl Store<String> for Record {
    fn location(&self) -> String {
        "record 'alice' (uid U)".into()
    }
    fn save(&mut self, new: &String) -> Step<()> {
        match self.save.clone() {
            Ok(()) => {
                self.holds = Some(new.clone());
                Ok(())
            }
            Err(Failure::Unknown(e)) => {
                if self.unknown_save_landed {
                    self.holds = Some(new.clone());
                }
                Err(Failure::Unknown(e))
            }
            Err(e) => Err(e),
        }
    }
    fn stored_id(&mut self) -> Step<Option<String>> {
        self.reread
            .clone()
            .unwrap_or_else(|| Ok(self.holds.clone()))
    }
    fn save_recording(&mut self, new: &String, progress: &Progress) -> Step<()> {
        let result = self.save(new);
        if self.holds.as_ref() == Some(new) {
            self.progress = Some(progress.clone());
        }
        result
    }
    fn completed(&mut self) {
        self.progress = None;
    }
}

fn service(live: &[&str]) -> Service {
    Service {
        live: live.iter().map(|s| s.to_string()).collect(),
        ..Service::default()
    }
}

fn plan(before: &[&str], make_room: Option<&str>, retire: &[&str]) -> Plan {
    Plan {
        before: before.iter().map(|s| s.to_string()).collect(),
        make_room: make_room.map(|id| (id.to_string(), "it is not in use".to_string())),
        retire: retire.iter().map(|s| s.to_string()).collect(),
    }
}

fn run(svc: &mut Service, rec: &mut Record, plan: &Plan) -> Result<Replaced<String>> {
    let verify = Verify {
        successes: 2,
        interval: Duration::from_millis(1),
        timeout: Duration::from_millis(50),
    };
    let deadline = Deadline::after(Duration::from_secs(30));
    replace(
        svc,
        rec,
        plan,
        Checks {
            verify: &verify,
            deadline: &deadline,
            reserve: Duration::ZERO,
        },
    )
}

fn guard() -> std::sync::MutexGuard<'static, ()> {
    let g = change::TEST_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    change::reset_for_test();
    crate::summary::reset_for_test();
    g
}

fn exit_of(result: &Result<Replaced<String>>) -> Exit {
    match result {
        Ok(_) => Exit::Rotated,
        Err(e) => e.exit(),
    }
}

fn text(result: &Result<Replaced<String>>) -> String {
    match result {
        Ok(r) => format!("ok {:?}", r.removed),
        Err(e) => e.to_string(),
    }
}

fn assert_names(result: &Result<Replaced<String>>, ids: &[&str]) {
    let t = text(result);
    for id in ids {
        assert!(t.contains(id), "message lacks {id}: {t}");
    }
}

// --- success --------------------------------------------------------------

#[test]
fn everything_answers_the_new_credential_is_stored_and_the_old_ones_go_the_records_last() {
    let _g = guard();
    let mut svc = service(&["SPARE", "OLD"]);
    let mut rec = Record::default();
    let result = run(
        &mut svc,
        &mut rec,
        &plan(&["SPARE", "OLD"], Some("SPARE"), &["OLD"]),
    );
    assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
    assert_eq!(svc.live, ["NEW1"]);
    assert_eq!(svc.revoked, ["SPARE", "OLD"]);
    assert_eq!(rec.holds.as_deref(), Some("NEW1"));
}

// --- make room ------------------------------------------------------------

#[test]
fn make_room_refused_changes_nothing_exit_1() {
    let _g = guard();
    let mut svc = service(&["SPARE", "OLD"]);
    svc.revoke.push_back((
        "SPARE".into(),
        Err(Failure::Definite("AccessDenied".into())),
    ));
    let mut rec = Record::default();
    let result = run(
        &mut svc,
        &mut rec,
        &plan(&["SPARE", "OLD"], Some("SPARE"), &["OLD"]),
    );
    assert_eq!(exit_of(&result), Exit::Failed);
    assert_eq!(svc.live, ["SPARE", "OLD"]);
}

#[test]
fn make_room_unanswered_exits_4_naming_the_credential() {
    let _g = guard();
    let mut svc = service(&["SPARE", "OLD"]);
    svc.revoke
        .push_back(("SPARE".into(), Err(Failure::Unknown("timeout".into()))));
    let mut rec = Record::default();
    let result = run(
        &mut svc,
        &mut rec,
        &plan(&["SPARE", "OLD"], Some("SPARE"), &["OLD"]),
    );
    assert_eq!(exit_of(&result), Exit::NeedsAttention);
    assert_names(&result, &["SPARE"]);
    assert_eq!(rec.holds.as_deref(), Some("OLD"));
}

#[test]
fn a_make_room_candidate_that_was_not_listed_is_never_revoked() {
    let _g = guard();
    let mut svc = service(&["OLD", "LATE"]);
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], Some("LATE"), &["OLD"]));
    assert_eq!(exit_of(&result), Exit::Failed);
    assert!(svc.revoked.is_empty());
}

// --- create ---------------------------------------------------------------

#[test]
fn create_refused_changes_nothing_exit_1() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.create
        .push_back(Err(Failure::Definite("LimitExceeded".into())));
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::Failed);
    assert_eq!(svc.live, ["OLD"]);
}

#[test]
fn create_refused_after_making_room_is_never_exit_1() {
    let _g = guard();
    let mut svc = service(&["SPARE", "OLD"]);
    svc.create
        .push_back(Err(Failure::Definite("ServiceFailure".into())));
    let mut rec = Record::default();
    let result = run(
        &mut svc,
        &mut rec,
        &plan(&["SPARE", "OLD"], Some("SPARE"), &["OLD"]),
    );
    assert_eq!(exit_of(&result), Exit::NeedsAttention);
    assert_names(&result, &["SPARE"]);
    assert_eq!(svc.live, ["OLD"]);
}

#[test]
fn a_lost_create_that_made_one_is_found_by_its_tag_revoked_and_exits_1() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.create
        .push_back(Err(Failure::Unknown("timeout".into())));
    svc.lost_create_made_one = true;
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::Failed, "{}", text(&result));
    assert_eq!(svc.live, ["OLD"]);
    assert_names(&result, &["NEW1"]);
    assert!(!change::any_outstanding());
}

#[test]
fn a_lost_create_that_cannot_be_found_exits_4() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.create
        .push_back(Err(Failure::Unknown("timeout".into())));
    svc.find = Some(Ok(Found::Nothing {
        hint: "named 'keeper-rotated X'".into(),
    }));
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::NeedsAttention);
    assert_names(&result, &["keeper-rotated X"]);
}

#[test]
fn a_lost_create_reads_right_whatever_the_noun_and_the_cause() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.noun = "access key";
    // A 500 is an answer, but not one that says whether the key was made.
    svc.create
        .push_back(Err(Failure::Unknown("ServiceFailure: try again".into())));
    svc.find = Some(Ok(Found::Nothing {
        hint: "named 'keeper-rotated X'".into(),
    }));
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    let said = text(&result);
    assert!(
        said.contains("got no answer that says whether it was made (ServiceFailure"),
        "{said}"
    );
    assert!(said.contains("for an access key named"), "{said}");
}

#[test]
fn a_lost_create_with_unproven_newcomers_leaves_them_alone_and_names_them() {
    let _g = guard();
    let mut svc = service(&["OLD", "STRANGER"]);
    svc.create
        .push_back(Err(Failure::Unknown("timeout".into())));
    svc.find = Some(Ok(Found::Unproven(vec!["STRANGER".into()])));
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::NeedsAttention);
    assert_names(&result, &["STRANGER"]);
    assert!(svc.revoked.is_empty());
}

#[test]
fn a_lost_create_whose_orphan_cannot_be_revoked_exits_4_naming_it() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.create
        .push_back(Err(Failure::Unknown("timeout".into())));
    svc.lost_create_made_one = true;
    svc.revoke
        .push_back(("NEW1".into(), Err(Failure::Definite("AccessDenied".into()))));
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::NeedsAttention);
    assert_names(&result, &["NEW1"]);
}

#[test]
fn a_lost_create_and_a_failed_listing_exit_4() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.create
        .push_back(Err(Failure::Unknown("timeout".into())));
    svc.find = Some(Err(Failure::Unknown("listing timed out".into())));
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::NeedsAttention);
}

// --- store ----------------------------------------------------------------

#[test]
fn a_definite_store_failure_revokes_the_new_credential_exit_1() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    let mut rec = Record {
        save: Err(Failure::Definite("access_denied".into())),
        ..Record::default()
    };
    change::sent("CreateAccessKey").unwrap().keep();
    let mark_all = change::outstanding().len();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::Failed, "{}", text(&result));
    assert_eq!(svc.live, ["OLD"]);
    assert_eq!(rec.holds.as_deref(), Some("OLD"));
    // What the run sent before the sequence stays; nothing of its own.
    assert_eq!(change::outstanding().len(), mark_all);
}

#[test]
fn a_definite_store_failure_whose_revocation_fails_exits_4_naming_the_new_one() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.revoke
        .push_back(("NEW1".into(), Err(Failure::Unknown("timeout".into()))));
    let mut rec = Record {
        save: Err(Failure::Definite("access_denied".into())),
        ..Record::default()
    };
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::NeedsAttention);
    assert_names(&result, &["NEW1"]);
}

#[test]
fn an_unknown_store_outcome_keeps_both_and_exits_4_naming_both() {
    let _g = guard();
    for landed in [false, true] {
        let mut svc = service(&["OLD"]);
        let mut rec = Record {
            save: Err(Failure::Unknown("no answer".into())),
            unknown_save_landed: landed,
            ..Record::default()
        };
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::NeedsAttention);
        assert_names(&result, &["NEW1", "OLD"]);
        assert_eq!(svc.live, ["OLD", "NEW1"], "both stay valid");
    }
}

// --- what the record says is left to do ----------------------------------

#[test]
fn the_store_save_records_what_the_run_stored_and_still_means_to_retire() {
    let _g = guard();
    let mut svc = service(&["A", "OLD"]);
    svc.probe_fails = true;
    let mut rec = Record::default();
    let result = run(
        &mut svc,
        &mut rec,
        &plan(&["A", "OLD"], None, &["A", "OLD"]),
    );
    assert_eq!(exit_of(&result), Exit::OldNotRetired);
    assert_eq!(
        rec.progress,
        Some(Progress {
            stored: "NEW1".into(),
            retiring: vec!["A".into(), "OLD".into()],
            retirement: Retirement::Revoke,
        }),
        "a run that stops here leaves the plan for the next"
    );
}

#[test]
fn a_completed_rotation_leaves_nothing_recorded() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
    assert_eq!(rec.progress, None);
}

// --- verify and before retiring ------------------------------------------

#[test]
fn a_credential_that_never_verifies_keeps_every_old_one_exit_3() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.probe_fails = true;
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::OldNotRetired);
    assert_names(&result, &["NEW1", "OLD"]);
    assert_eq!(svc.live, ["OLD", "NEW1"]);
}

#[test]
fn a_credential_verified_before_storing_that_never_works_is_revoked_exit_1() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.probe_fails = true;
    svc.early_verify = true;
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::Failed, "{}", text(&result));
    assert_eq!(svc.live, ["OLD"]);
    assert_eq!(rec.holds.as_deref(), Some("OLD"), "never stored");
    assert!(!change::any_outstanding());
}

#[test]
fn a_credential_verified_before_storing_whose_revocation_fails_exits_4() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.probe_fails = true;
    svc.early_verify = true;
    svc.revoke
        .push_back(("NEW1".into(), Err(Failure::Unknown("timeout".into()))));
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::NeedsAttention);
    assert_names(&result, &["NEW1"]);
    assert_eq!(rec.holds.as_deref(), Some("OLD"));
}

#[test]
fn a_failed_step_before_retiring_keeps_every_old_one_exit_3() {
    for failure in [
        Failure::Definite("the token was refused".into()),
        Failure::Unknown("the token request timed out".into()),
    ] {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.before_retire = Some(failure);
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::OldNotRetired);
        assert_eq!(svc.live, ["OLD", "NEW1"]);
    }
}

#[test]
fn a_new_credential_superseded_before_retiring_keeps_every_old_one_exit_4() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    svc.before_retire = Some(Failure::Superseded("the slot holds another key".into()));
    let mut rec = Record::default();
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::NeedsAttention);
    assert_names(&result, &["NEW1", "OLD"]);
    assert!(svc.revoked.is_empty());
    let message = result
        .expect_err("a superseded credential is no success")
        .to_string();
    assert!(!message.contains("works"), "{message}");
}

// --- the re-read ----------------------------------------------------------

#[test]
fn a_record_changed_by_someone_else_stops_before_any_revocation_exit_4() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    let mut rec = Record {
        reread: Some(Ok(Some("OTHER".into()))),
        ..Record::default()
    };
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::NeedsAttention);
    assert_names(&result, &["NEW1", "OLD", "OTHER"]);
    assert!(svc.revoked.is_empty());
    // Both stay valid, and the record holds neither: the line says so.
    let (retired, left) = crate::summary::retired_and_left_for_test();
    assert!(retired.is_empty(), "{retired:?}");
    assert_eq!(left, ["NEW1", "OLD"]);
}

#[test]
fn a_failed_re_read_keeps_every_old_one_exit_3() {
    let _g = guard();
    let mut svc = service(&["OLD"]);
    let mut rec = Record {
        reread: Some(Err(Failure::Unknown("timeout".into()))),
        ..Record::default()
    };
    let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
    assert_eq!(exit_of(&result), Exit::OldNotRetired);
    assert!(svc.revoked.is_empty());
}

mod later_steps;
