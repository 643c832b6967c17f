//! The end-to-end behaviours every HTTP password rotator shares, run on one
//! binary's own fixture: one row per binary ([`password_suite!`](crate::password_suite!)).
//!
//! Why a shared suite: every such rotator (Okta, REST, Meraki, and the next
//! one) finds an admin record, reads a url and a token from it, looks the
//! user up, sends one change and leaves storing `newPassword` to the
//! Gateway. What must hold of that is the same for all of them (the exit
//! code tells the truth, nothing is sent before the input is known good, a
//! change is never sent twice, a dry run only reads), and each binary used
//! to write its own copy of those tests. Here they are written once, over
//! the world a rehearsal builds from the use case's fixture
//! (`fixtures/records/<use-case>.json`, seeded as `harness run` seeds it),
//! so a new rotator gets them with its `USE_CASES` entry and one line.
//!
//! What each test knows of the binary comes from its `PasswordRotator`
//! description (`rehearsal/password.rs`), through [`PasswordFacts`]: the
//! admin record the binary picks, the user record's title field, the
//! default title, the url field, the documented exit of an unknown user.
//! The change is found, not named: it is the first request of a clean run
//! that is not a read (`GET`, `HEAD`), unless the description names it
//! (`CHANGE_CALL`, for a service that signs in with a `POST` first), and a
//! fault is armed on it. Every run is scanned for every secret of the world
//! (the rehearsal's [`World::secrets`]), and its stdout must be the one
//! summary line.
//!
//! What a binary and its fake are held to, beyond the exit codes: a refusal
//! of the records names the field (`'password'`, the url field, the title
//! field) and the record; a wrong token is the service's `401`, shown as
//! `HTTP 401` with advice naming the `password` field `in record '<title>'`;
//! an unsure change says it "may or may not"; the fake's `429`
//! asks for at least a second (`Retry-After: 1`), which the binary waits out.
//!
//! What stays in a binary's own tests: what only it does (Meraki's shard
//! redirect and administrators, Okta's policies and admin reset, the REST
//! body template), and what needs a fake set up otherwise than from the
//! fixture.
//!
//! [`World::secrets`]: crate::rehearsal::World::secrets

use serde_json::Value;

use crate::binary::Binary;
use crate::faults::FaultKind;
use crate::rehearsal::world::{RunOptions, lookup_keys, replace_field};
use crate::rehearsal::{self, PasswordFacts, Rehearsal, Timing, World};
use crate::runner::Outcome;

/// A login no fake knows.
const UNKNOWN_USER: &str = "nobody-of-the-suite@example.com";

/// A token the fake does not take.
const WRONG_TOKEN: &str = "wrong-token-of-the-suite-0000000001";

/// How long an answer past the request timeout is held: well past the 2 s
/// of [`Timing::FAULTS`], so a run that waited for it cannot pass.
const HELD: std::time::Duration = std::time::Duration::from_secs(8);

/// A url to a host that is not this machine, over plain http.
const PLAIN_HTTP_ELSEWHERE: &str = "http://api.example.com/api/v1/password";

/// One binary's use case: its fixture read, its binary checked.
struct Case {
    bin: Binary,
    rehearsal: Rehearsal,
}

impl Case {
    /// The use case `name`, run with `bin`, which must be its binary.
    fn new(name: &str, bin: Binary) -> Self {
        let use_case = rehearsal::use_case(name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            use_case.binary,
            bin.name(),
            "the row names use case '{name}', whose binary is {}",
            use_case.binary
        );
        let rehearsal = Rehearsal::fixture(use_case).unwrap_or_else(|e| panic!("{e}"));
        Self { bin, rehearsal }
    }

    /// Fresh fakes seeded from the fixture. Panics unless the use case is
    /// an HTTP password rotator whose admin record the fixture holds.
    fn world(&self) -> World {
        let world =
            World::start(&self.rehearsal).unwrap_or_else(|e| panic!("cannot start the fakes: {e}"));
        let facts = facts(&world);
        assert!(
            facts.admin.is_some(),
            "the fixture of {} holds no admin record the binary would pick",
            self.bin.name()
        );
        world
    }

    /// Runs the binary once on `world`. Fails the test when an output holds
    /// a secret of the world (the outputs are withheld) or when stdout is
    /// not the one summary line.
    fn run(&self, world: &World, dry_run: bool) -> Outcome {
        let options = RunOptions {
            dry_run,
            ..RunOptions::default()
        };
        self.run_with(world, &options)
    }

    /// [`Case::run`] with `options` (the short timeouts of fault runs).
    fn run_with(&self, world: &World, options: &RunOptions) -> Outcome {
        let out = world.run(self.bin.path(), options);
        if let Some(leak) = out.find_leak(&world.secrets()) {
            panic!("LEAK: {leak}\n--- stdout\n(withheld)\n--- stderr\n(withheld)");
        }
        assert_eq!(
            out.stdout.lines().count(),
            1,
            "stdout is not one summary line:\n{}",
            world.mask(&out.output())
        );
        out
    }

    /// The name of the call that changes the password: the first change of
    /// a clean run (see [`changes`]). Fails unless the clean run rotated.
    fn change_call(&self) -> String {
        let world = self.world();
        let out = self.run(&world, false);
        expect(&world, &out, 0, &[]);
        changes(&facts(&world))
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("the clean run of {} sent no change", self.bin.name()))
    }

    /// A world whose change call fails with `kind` (its first occurrence).
    fn world_failing_the_change(&self, kind: FaultKind) -> (World, String) {
        let change = self.change_call();
        let world = self.world();
        world
            .service
            .armable()
            .arm(&change, 1, kind)
            .unwrap_or_else(|e| panic!("cannot arm {kind} on {change}: {e}"));
        (world, change)
    }
}

/// The suite's view of the world's password rotator.
fn facts(world: &World) -> PasswordFacts {
    world.service.password_rotator().unwrap_or_else(|| {
        panic!(
            "the use case of '{}' is not an HTTP password rotator (harness::rehearsal::password)",
            world.service.name()
        )
    })
}

/// The admin record's uid and title in the world's fixture.
fn admin(world: &World) -> (String, String) {
    facts(world).admin.expect("the world's admin record")
}

/// The names of the requests that were changes, in order: those of the
/// description's change call, else every one that is not a read.
fn changes(facts: &PasswordFacts) -> Vec<String> {
    facts
        .requests
        .iter()
        .filter(|(call, method)| match facts.change_call {
            Some(change) => call == change,
            None => !matches!(method.as_str(), "GET" | "HEAD"),
        })
        .map(|(call, _)| call.clone())
        .collect()
}

/// How many times `call` was received.
fn sent(facts: &PasswordFacts, call: &str) -> usize {
    facts.requests.iter().filter(|(c, _)| c == call).count()
}

/// Fails unless `out` exited `code` with every one of `says` in stderr
/// (the outputs shown masked) and the fakes' end state agrees with the code
/// ([`World::verdict`]: 0 the new password, 1 and 2 the old one).
fn expect(world: &World, out: &Outcome, code: i32, says: &[&str]) {
    let shown = || world.mask(&out.output());
    assert_eq!(out.code, Some(code), "{}", shown());
    for text in says {
        assert!(
            out.stderr.contains(text),
            "stderr does not say {text:?}:\n{}",
            shown()
        );
    }
    if let Err(why) = world.verdict(out, false) {
        panic!("{why}\n{}", shown());
    }
}

/// Fails unless the fake received no request at all.
fn nothing_sent(world: &World) {
    let requests = facts(world).requests;
    assert!(requests.is_empty(), "requests were sent: {requests:?}");
}

/// The dictionary with `uid`.
fn dict<'d>(
    dicts: &'d mut [serde_json::Map<String, Value>],
    uid: &str,
) -> &'d mut serde_json::Map<String, Value> {
    dicts
        .iter_mut()
        .find(|d| d.get("uid").and_then(Value::as_str) == Some(uid))
        .unwrap_or_else(|| panic!("no record {uid} in the input"))
}

/// The success path: exit 0, the account holds the Gateway's newPassword,
/// the change was sent once (a sign-in that proves it may follow).
pub fn rotates_and_the_service_holds_the_new_password(use_case: &str, bin: Binary) {
    let case = Case::new(use_case, bin);
    let world = case.world();
    let out = case.run(&world, false);
    expect(&world, &out, 0, &[]);
    let facts = facts(&world);
    assert_eq!(facts.password, Some(world.param("newPassword")));
    let change = changes(&facts)
        .into_iter()
        .next()
        .expect("a change was sent");
    assert_eq!(sent(&facts, &change), 1, "{change} was sent again");
}

/// No admin record attached, and none named: exit 2 naming the title
/// field and the title to attach, before any request.
pub fn no_admin_record_exits_2_naming_what_to_attach_and_sends_nothing(
    use_case: &str,
    bin: Binary,
) {
    let case = Case::new(use_case, bin);
    let mut world = case.world();
    let (admin_uid, _) = admin(&world);
    let user_uid = world.user_uid().to_owned();
    let facts = facts(&world);
    world.change_input(|_, dicts| {
        dicts.retain(|d| d.get("uid").and_then(Value::as_str) != Some(admin_uid.as_str()));
        let user = dict(dicts, &user_uid);
        for key in lookup_keys(user, facts.title_field) {
            user.remove(&key);
        }
    });
    let out = case.run(&world, false);
    let title = format!("'{}'", facts.default_title);
    expect(&world, &out, 2, &[facts.title_field, &title]);
    nothing_sent(&world);
}

/// The admin record without its token (`password`, or the description's
/// `TOKEN_FIELD`): exit 2 naming the field and the record, before any
/// request.
pub fn an_admin_record_without_its_token_exits_2_naming_the_field_and_the_record(
    use_case: &str,
    bin: Binary,
) {
    let case = Case::new(use_case, bin);
    let mut world = case.world();
    let (admin_uid, admin_title) = admin(&world);
    let token = facts(&world).token_field;
    world.change_input(|_, dicts| {
        replace_field(
            dict(dicts, &admin_uid),
            token,
            &Value::String(String::new()),
        );
    });
    let out = case.run(&world, false);
    let says = format!("'{token}' is missing or empty in record '{admin_title}'");
    expect(&world, &out, 2, &[&says]);
    nothing_sent(&world);
}

/// The API's url over plain http to a host that is not this machine: exit
/// 2 naming the url field, before any request (the token would travel in
/// clear).
pub fn plain_http_to_another_host_exits_2_naming_the_url_field_and_sends_nothing(
    use_case: &str,
    bin: Binary,
) {
    let case = Case::new(use_case, bin);
    let mut world = case.world();
    let (admin_uid, _) = admin(&world);
    let facts = facts(&world);
    world.change_input(|_, dicts| {
        replace_field(
            dict(dicts, &admin_uid),
            facts.url_field,
            &Value::String(PLAIN_HTTP_ELSEWHERE.into()),
        );
    });
    let out = case.run(&world, false);
    let field = format!("'{}'", facts.url_field);
    expect(&world, &out, 2, &[&field, "plain http"]);
    nothing_sent(&world);
    world.contained().unwrap_or_else(|e| panic!("{e}"));
}

/// A token the service refuses (the description's `wrong_token`, else
/// [`WRONG_TOKEN`]): exit 1 pointing at the token (`password`, or the
/// description's `TOKEN_FIELD`) of the admin record, the password unchanged.
pub fn a_wrong_token_exits_1_naming_the_admin_record_and_changes_nothing(
    use_case: &str,
    bin: Binary,
) {
    let case = Case::new(use_case, bin);
    let mut world = case.world();
    let (admin_uid, admin_title) = admin(&world);
    let facts = facts(&world);
    let token = facts.token_field;
    let wrong = facts.wrong_token.unwrap_or_else(|| WRONG_TOKEN.into());
    world.change_input(|_, dicts| {
        replace_field(
            dict(dicts, &admin_uid),
            token,
            &Value::String(wrong.clone()),
        );
    });
    let out = case.run(&world, false);
    let record = format!("in record '{admin_title}'");
    expect(&world, &out, 1, &["HTTP 401", token, &record]);
}

/// A login the service has no user for: the documented exit (1, or 2
/// where the binary calls it bad input), the password unchanged.
pub fn a_user_the_service_does_not_know_exits_as_documented_and_changes_nothing(
    use_case: &str,
    bin: Binary,
) {
    let case = Case::new(use_case, bin);
    let mut world = case.world();
    let user_uid = world.user_uid().to_owned();
    world.change_input(|params, dicts| {
        params.insert("user".into(), Value::String(UNKNOWN_USER.into()));
        let user = dict(dicts, &user_uid);
        for key in lookup_keys(user, "login") {
            user.insert(key, Value::String(UNKNOWN_USER.into()));
        }
    });
    let out = case.run(&world, false);
    let facts = facts(&world);
    expect(&world, &out, facts.unknown_user_exit, &[]);
}

/// A newPassword of one character (the record's password complexity set
/// by mistake): exit 2 naming `newPassword` and the least length, before
/// any request. The old password of any length is still rotated.
pub fn a_new_password_of_one_character_exits_2_and_sends_nothing(use_case: &str, bin: Binary) {
    let case = Case::new(use_case, bin);
    let mut world = case.world();
    world.change_input(|params, _| {
        params.insert("newPassword".into(), Value::String("x".into()));
    });
    let out = case.run(&world, false);
    expect(
        &world,
        &out,
        2,
        &[
            "'newPassword' in the Gateway's input is invalid",
            "fewer than 6",
        ],
    );
    nothing_sent(&world);
}

/// `--dry-run`: exit 0, only reads sent, the account and the vault as
/// seeded.
pub fn a_dry_run_only_reads_and_changes_nothing(use_case: &str, bin: Binary) {
    let case = Case::new(use_case, bin);
    let world = case.world();
    let out = case.run(&world, true);
    let shown = || world.mask(&out.output());
    assert_eq!(out.code, Some(0), "{}", shown());
    assert!(out.stdout.contains("dry run"), "{}", shown());
    if let Err(why) = world.verdict(&out, true) {
        panic!("{why}\n{}", shown());
    }
    let changes = changes(&facts(&world));
    assert!(changes.is_empty(), "a dry run sent {changes:?}");
}

/// The change answered `kind`: exit 4 saying the password may or may not
/// have changed (and `says`: the answer, when there was one), and the
/// change never sent again.
fn the_change_failing_exits_4_and_is_never_sent_again(
    use_case: &str,
    bin: Binary,
    kind: FaultKind,
    says: &str,
) {
    let case = Case::new(use_case, bin);
    let (world, change) = case.world_failing_the_change(kind);
    let out = case.run(&world, false);
    expect(&world, &out, 4, &["may or may not", says]);
    assert_eq!(sent(&facts(&world), &change), 1, "{change} was sent again");
}

/// The change answered with the service's own 500 (not applied).
pub fn a_500_to_the_change_exits_4_and_is_never_sent_again(use_case: &str, bin: Binary) {
    let kind = FaultKind::Status500;
    the_change_failing_exits_4_and_is_never_sent_again(use_case, bin, kind, "HTTP 500");
}

/// The change applied, then answered 500.
pub fn a_change_applied_then_answered_500_exits_4_and_is_never_sent_again(
    use_case: &str,
    bin: Binary,
) {
    let kind = FaultKind::ApplyThen500;
    the_change_failing_exits_4_and_is_never_sent_again(use_case, bin, kind, "HTTP 500");
}

/// The change applied, then the connection closed before any answer.
pub fn a_change_whose_answer_is_lost_exits_4_and_is_never_sent_again(use_case: &str, bin: Binary) {
    let kind = FaultKind::DropAfterApply;
    let says = "the request was sent but";
    the_change_failing_exits_4_and_is_never_sent_again(use_case, bin, kind, says);
}

/// The change applied, its answer held past the request timeout
/// ([`Timing::FAULTS`]: 2 s; the answer held [`HELD`]): exit 4 once the
/// timeout fires, without waiting for the answer, and the change never sent
/// again.
pub fn a_change_unanswered_within_the_timeout_exits_4_and_is_never_sent_again(
    use_case: &str,
    bin: Binary,
) {
    let case = Case::new(use_case, bin);
    let (world, change) = case.world_failing_the_change(FaultKind::TimeoutAfterApply);
    world.service.armable().set_hold(HELD);
    let timing = Some(Timing::FAULTS);
    let out = case.run_with(
        &world,
        &RunOptions {
            timing,
            ..RunOptions::default()
        },
    );
    expect(&world, &out, 4, &["may or may not"]);
    assert!(
        out.elapsed < HELD,
        "the run waited {:?} for an answer past its request timeout",
        out.elapsed
    );
    assert_eq!(sent(&facts(&world), &change), 1, "{change} was sent again");
}

/// The change answered with the service's rate limit (429 with
/// `Retry-After: 1`, or Okta's `X-Rate-Limit-Reset` over a second ahead):
/// the binary waits at least what it was asked, sends it again, exits 0.
pub fn a_429_to_the_change_is_waited_out_as_asked_then_rotates(use_case: &str, bin: Binary) {
    let case = Case::new(use_case, bin);
    let (world, change) = case.world_failing_the_change(FaultKind::Status429);
    let out = case.run(&world, false);
    expect(&world, &out, 0, &["HTTP 429, retrying in "]);
    assert_eq!(sent(&facts(&world), &change), 2, "{change}");
    let waited: f64 = out
        .stderr
        .split("HTTP 429, retrying in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|seconds| seconds.parse().ok())
        .expect("the wait in the retry line");
    assert!(
        waited >= 1.0,
        "waited {waited} s, less than the second the 429 asked for"
    );
    // The line shows the wait rounded to a tenth of a second.
    assert!(
        out.elapsed.as_secs_f64() >= waited - 0.05,
        "the run took {:?}, less than the {waited} s it said it waited",
        out.elapsed
    );
}

/// `harness demo <use-case>` (the rehearsal of the fixture an
/// administrator runs first) rotates, agrees with the end state, leaks
/// nothing, and shows the secrets of the requests masked (`********`; an
/// `Authorization` header's token always).
pub fn the_demo_rotates_and_shows_every_secret_masked(use_case: &str, bin: Binary) {
    let report = crate::demo::run(use_case, bin.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.ok, "{}", report.text);
    for shown in ["is now the Gateway's newPassword: yes", "********"] {
        assert!(report.text.contains(shown), "{shown:?}:\n{}", report.text);
    }
    let token_lines: Vec<&str> = report
        .text
        .lines()
        .filter(|l| l.trim_start().starts_with("authorization: "))
        .collect();
    assert!(
        token_lines.iter().all(|l| l.ends_with("********")),
        "{}",
        report.text
    );
}

/// One test per behaviour of this suite, for one binary, in a module named
/// for it. A row: `harness::password_suite!(meraki_user: "meraki-user");`
/// in the binary's `tests/` (the use case's binary must be
/// `rotate-<use-case>`, and its `USE_CASES` entry an HTTP password
/// rotator's).
#[macro_export]
macro_rules! password_suite {
    ($module:ident: $use_case:literal) => {
        mod $module {
            const BIN: $crate::Binary = $crate::Binary::new(
                concat!("rotate-", $use_case),
                env!(concat!("CARGO_BIN_EXE_rotate-", $use_case)),
            );

            $crate::password_suite!(@tests $use_case;
                rotates_and_the_service_holds_the_new_password,
                no_admin_record_exits_2_naming_what_to_attach_and_sends_nothing,
                an_admin_record_without_its_token_exits_2_naming_the_field_and_the_record,
                plain_http_to_another_host_exits_2_naming_the_url_field_and_sends_nothing,
                a_wrong_token_exits_1_naming_the_admin_record_and_changes_nothing,
                a_user_the_service_does_not_know_exits_as_documented_and_changes_nothing,
                a_dry_run_only_reads_and_changes_nothing,
                a_new_password_of_one_character_exits_2_and_sends_nothing,
                a_500_to_the_change_exits_4_and_is_never_sent_again,
                a_change_applied_then_answered_500_exits_4_and_is_never_sent_again,
                a_change_whose_answer_is_lost_exits_4_and_is_never_sent_again,
                a_change_unanswered_within_the_timeout_exits_4_and_is_never_sent_again,
                a_429_to_the_change_is_waited_out_as_asked_then_rotates,
                the_demo_rotates_and_shows_every_secret_masked,
            );
        }
    };
    (@tests $use_case:literal; $($test:ident,)*) => {$(
        #[test]
        fn $test() {
            $crate::suites::password::$test($use_case, BIN)
        }
    )*};
}
