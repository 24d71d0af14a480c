//! Calendar arithmetic for the few dates SMTP actors write (mail log stamps, `Date:` and
//! `Received:` headers): seconds since 1970 in, civil date and RFC 5322 text out.

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Month abbreviations as dates in mail are written.
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An RFC 5322 date in UTC: `Thu, 01 Jan 2026 00:00:10 +0000`.
pub fn rfc5322(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let days = unix_secs / 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let (h, m, s) = (
        unix_secs % 86_400 / 3600,
        unix_secs % 3600 / 60,
        unix_secs % 60,
    );
    format!(
        "{}, {day:02} {} {year} {h:02}:{m:02}:{s:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_mail_form() {
        assert_eq!(rfc5322(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        // smtpsim's epoch, and the day ssmtp was measured (its Date header said so).
        assert_eq!(rfc5322(1_767_225_600), "Thu, 01 Jan 2026 00:00:00 +0000");
        assert_eq!(rfc5322(1_796_413_278), "Fri, 04 Dec 2026 19:41:18 +0000");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
