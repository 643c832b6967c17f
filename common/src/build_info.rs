//! What `--version` prints, stamped at build time by `common/build.rs`.
//!
//! Why: an operator who finds a binary on a gateway host must be able to tell
//! which source it was built from and when, without trusting a file name.
//! Release archives (`scripts/dist`) carry the commit and the build date;
//! development builds carry the commit only, so that the stamp does not
//! change, and nothing relinks, from one day to the next.

/// `0.1.0 (commit abc1234, built 2026-11-27)`, or `0.1.0 (commit abc1234)`
/// without a build date, or `commit unknown` when built outside git.
/// What `--version` prints after the program name.
pub const VERSION: &str = env!("KEEPER_ROTATORS_VERSION");

/// The abbreviated commit, with `-dirty` when built from uncommitted changes
/// (`scripts/dist` only), or `unknown`.
pub const COMMIT: &str = env!("KEEPER_ROTATORS_COMMIT");

/// The UTC build date `YYYY-MM-DD` of a release build; `None` in development.
pub const BUILD_DATE: Option<&str> = match env!("KEEPER_ROTATORS_BUILD_DATE").as_bytes() {
    [] => None,
    _ => Some(env!("KEEPER_ROTATORS_BUILD_DATE")),
};

#[cfg(test)]
mod stamp;

#[cfg(test)]
mod tests {
    use super::stamp::{date_from_epoch, is_commit, is_date, version};
    use super::{BUILD_DATE, COMMIT, VERSION};

    #[test]
    fn the_stamp_is_the_package_version_the_commit_and_the_date_if_any() {
        assert_eq!(
            VERSION,
            version(env!("CARGO_PKG_VERSION"), COMMIT, BUILD_DATE)
        );
        assert!(is_commit(COMMIT), "{COMMIT:?}");
        if let Some(date) = BUILD_DATE {
            assert!(is_date(date), "{date:?}");
        }
    }

    #[test]
    fn a_release_stamp_names_commit_and_date_and_a_dev_stamp_the_commit_only() {
        assert_eq!(
            version("0.1.0", "abc1234", Some("2026-11-27")),
            "0.1.0 (commit abc1234, built 2026-11-27)"
        );
        assert_eq!(version("0.1.0", "unknown", None), "0.1.0 (commit unknown)");
    }

    #[test]
    fn commits_are_hex_optionally_dirty_or_unknown() {
        for good in [
            "abc1234",
            "0123456789abcdef0123456789abcdef01234567",
            "abc1234-dirty",
            "unknown",
        ] {
            assert!(is_commit(good), "{good:?}");
        }
        for bad in [
            "",
            "abc123",
            "xyz1234",
            "abc1234 (evil)",
            "abc1234-clean",
            "abc1234\n",
        ] {
            assert!(!is_commit(bad), "{bad:?}");
        }
    }

    #[test]
    fn dates_must_exist_on_the_calendar() {
        for good in ["2026-11-27", "2024-02-29", "2000-02-29", "1970-01-01"] {
            assert!(is_date(good), "{good:?}");
        }
        for bad in [
            "2026-11-31",
            "2023-02-29",
            "1900-02-29",
            "2026-13-01",
            "2026-1-27",
            "27-11-2026",
            "today",
        ] {
            assert!(!is_date(bad), "{bad:?}");
        }
    }

    #[test]
    fn source_date_epoch_becomes_the_utc_calendar_date() {
        assert_eq!(date_from_epoch(0), "1970-01-01");
        assert_eq!(date_from_epoch(86_399), "1970-01-01");
        assert_eq!(date_from_epoch(951_782_400), "2000-02-29");
        assert_eq!(date_from_epoch(1_709_164_800), "2024-02-29");
        assert_eq!(date_from_epoch(1_795_823_999), "2026-11-27");
        assert_eq!(date_from_epoch(1_795_824_000), "2026-11-28");
        assert_eq!(date_from_epoch(4_102_444_800), "2100-01-01");
    }
}
