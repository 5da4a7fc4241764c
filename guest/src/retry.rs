//! Retry and poll timing: exponential backoff with full jitter, `Retry-After`, the poll schedule.

use crate::prelude::*;

/// Base of the exponential backoff, ms.
pub const BACKOFF_BASE_MS: u64 = 500;
/// Cap of the exponential backoff, ms.
pub const BACKOFF_CAP_MS: u64 = 8_000;
/// Cap of a `Retry-After` delay, ms.
pub const RETRY_AFTER_CAP_MS: u64 = 60_000;
/// Cap of the poll delay, ms (a larger `poll-interval-ms` is used as is).
pub const POLL_CAP_MS: u64 = runware_spec::POLL_DELAY_CAP_MS as u64;

/// A source of randomness: backoff jitter and taskUUIDs. The glue uses `wasi:random`; tests use
/// a seeded generator.
pub trait Entropy {
    /// 64 random bits.
    fn next_u64(&mut self) -> u64;

    /// A fresh UUID v4, as lowercase hyphenated text.
    fn uuid_v4(&mut self) -> String {
        let mut bytes = [0u8; 16];
        let (a, b) = bytes.split_at_mut(8);
        a.copy_from_slice(&self.next_u64().to_le_bytes());
        b.copy_from_slice(&self.next_u64().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }
}

/// A small deterministic generator (SplitMix64), for tests and fuzzing.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl Entropy for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The backoff ceiling before retry number `n` (0 for the first retry): min(8 s, 500 ms × 2^n).
pub fn backoff_ceiling_ms(n: u32) -> u64 {
    BACKOFF_BASE_MS
        .checked_shl(n.min(32))
        .unwrap_or(u64::MAX)
        .min(BACKOFF_CAP_MS)
}

/// The full-jitter delay before retry `n`: uniform in [0, `backoff_ceiling_ms(n)`].
pub fn backoff_delay_ms(n: u32, random: u64) -> u64 {
    let ceiling = backoff_ceiling_ms(n);
    random % (ceiling + 1)
}

/// Parses a `Retry-After` value: whole or fractional seconds, or an HTTP date (IMF-fixdate,
/// RFC 850 or asctime) measured from `date` (the response's own `Date` header). Returns the delay
/// in ms capped at 60 s, or `None` when it cannot be understood (then the backoff applies).
pub fn parse_retry_after(value: &str, date: Option<&str>) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs.saturating_mul(1000).min(RETRY_AFTER_CAP_MS));
    }
    if let Some(secs) = crate::parse::number_text(value) {
        if secs.is_finite() && secs >= 0.0 {
            let ms = (secs * 1000.0).min(RETRY_AFTER_CAP_MS as f64);
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "clamped to 0..=60000"
            )]
            return Some(ms as u64);
        }
        return None;
    }
    let target = parse_http_date(value)?;
    let now = parse_http_date(date?)?;
    let secs = u64::try_from(target.saturating_sub(now)).unwrap_or(0);
    Some(secs.saturating_mul(1000).min(RETRY_AFTER_CAP_MS))
}

/// Parses an HTTP date to Unix seconds. Accepts `Sun, 06 Nov 1994 08:49:37 GMT`,
/// `Sunday, 06-Nov-94 08:49:37 GMT` and `Sun Nov  6 08:49:37 1994`.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let words: Vec<&str> = text.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let (day, month, year, time) = match words.as_slice() {
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        [_, d, m, y, t, "GMT"] => ((*d).to_string(), (*m).to_string(), (*y).to_string(), *t),
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        [_, dmy, t, "GMT"] => {
            let mut parts = dmy.split('-');
            let d = parts.next()?;
            let m = parts.next()?;
            let y = parts.next()?;
            let y = if y.len() == 2 {
                format!("19{y}")
            } else {
                y.to_string()
            };
            (d.to_string(), m.to_string(), y, *t)
        }
        // asctime: Sun Nov  6 08:49:37 1994
        [_, m, d, t, y] => ((*d).to_string(), (*m).to_string(), (*y).to_string(), *t),
        _ => return None,
    };
    let day: i64 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| m.eq_ignore_ascii_case(&month))?;
    let month = i64::try_from(month).ok()? + 1;
    let mut year: i64 = year.parse().ok()?;
    if year < 100 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    let mut hms = time.split(':');
    let h: i64 = hms.next()?.parse().ok().filter(|h| (0..24).contains(h))?;
    let mi: i64 = hms.next()?.parse().ok().filter(|m| (0..60).contains(m))?;
    let s: i64 = hms.next()?.parse().ok().filter(|s| (0..=60).contains(s))?;
    if hms.next().is_some() {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The delay after a poll delay of `previous` ms: ×1.5 (at least +1 ms, so a 1 ms interval
/// grows too), capped at 10 s (or at the configured interval when that is larger).
pub fn next_poll_delay_ms(previous: u64, interval: u64) -> u64 {
    let grown = previous.saturating_add((previous / 2).max(1));
    grown.min(POLL_CAP_MS.max(interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzz harness: a 1 ms interval stayed at 1 ms (1 + 1/2 = 1), so a task
    /// polled through transport failures was asked for about 60,000 times before the poll
    /// deadline instead of a few dozen.
    #[test]
    fn a_one_millisecond_poll_interval_still_grows() {
        let mut d = 1;
        let mut polls = 0;
        let mut waited = 0;
        while waited < 60_000 {
            waited += d;
            d = next_poll_delay_ms(d, 1);
            polls += 1;
        }
        assert_eq!(next_poll_delay_ms(1, 1), 2);
        assert!(polls < 40, "{polls} polls in a minute");
    }
}
