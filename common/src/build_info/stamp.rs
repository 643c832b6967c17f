//! The pure part of the version stamp, shared by `common/build.rs` (which
//! includes this file with `#[path]`) and the unit tests of
//! [`crate::build_info`]. Nothing here may depend on the crate: build scripts
//! compile it on their own.

/// The text after the binary's name in `--version`:
/// `0.1.0 (commit abc1234, built 2026-11-27)`, or without the date.
pub fn version(package: &str, commit: &str, date: Option<&str>) -> String {
    match date {
        Some(date) => format!("{package} (commit {commit}, built {date})"),
        None => format!("{package} (commit {commit})"),
    }
}

/// A commit as printed: hex digits with an optional `-dirty` suffix, or
/// `unknown`. Anything else is refused, so a stray value cannot make
/// `--version` lie or break its one-line shape.
pub fn is_commit(text: &str) -> bool {
    if text == "unknown" {
        return true;
    }
    let hex = text.strip_suffix("-dirty").unwrap_or(text);
    (7..=40).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A calendar date written `YYYY-MM-DD`, with a month and day that exist.
pub fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return false;
    };
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return false;
    }
    let (Ok(year), Ok(month), Ok(day)) = (
        year.parse::<i64>(),
        month.parse::<u32>(),
        day.parse::<u32>(),
    ) else {
        return false;
    };
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The UTC calendar date of a Unix time (`SOURCE_DATE_EPOCH`), as
/// `YYYY-MM-DD`. Howard Hinnant's days-to-civil algorithm: no time crate
/// is needed in a build script for this.
pub fn date_from_epoch(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
