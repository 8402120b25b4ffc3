//! Wall-clock times as Go's `time.RFC3339Nano` prints them in UTC, which is what Docker puts in
//! json-file logs and in a container's `StartedAt`/`FinishedAt`.

/// Go's zero `time.Time`, which Docker shows for "never".
pub const ZERO: &str = "0001-01-01T00:00:00Z";

/// A point in time: seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    pub secs: i64,
    pub nanos: u32,
}

impl Time {
    pub fn now() -> Time {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Time {
            secs: d.as_secs() as i64,
            nanos: d.subsec_nanos(),
        }
    }
}

/// Appends `t` as `2006-01-02T15:04:05.999999999Z`: the fraction without trailing zeros, and no
/// fraction at all on a whole second (Go's `.999999999`). `None` is the zero time.
pub fn push_rfc3339_nano(out: &mut Vec<u8>, t: Option<Time>) {
    let Some(t) = t else {
        out.extend_from_slice(ZERO.as_bytes());
        return;
    };
    let days = t.secs.div_euclid(86_400);
    let rem = t.secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    push_digits(out, y as u64, 4);
    out.push(b'-');
    push_digits(out, u64::from(m), 2);
    out.push(b'-');
    push_digits(out, u64::from(d), 2);
    out.push(b'T');
    push_digits(out, (rem / 3600) as u64, 2);
    out.push(b':');
    push_digits(out, (rem / 60 % 60) as u64, 2);
    out.push(b':');
    push_digits(out, (rem % 60) as u64, 2);
    if t.nanos > 0 {
        let mut frac = t.nanos;
        let mut width = 9;
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        out.push(b'.');
        push_digits(out, u64::from(frac), width);
    }
    out.push(b'Z');
}

/// `n` in decimal, zero-padded to `width` digits.
fn push_digits(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut n = n;
    while n > 0 {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = (buf.len() - width).min(i);
    out.extend_from_slice(&buf[start..]);
}

/// (year, month, day) of the proleptic Gregorian calendar for a count of days since 1970-01-01.
// Ref: Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms", civil_from_days.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(secs: i64, nanos: u32) -> String {
        let mut v = Vec::new();
        push_rfc3339_nano(&mut v, Some(Time { secs, nanos }));
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn formats_as_go_rfc3339_nano() {
        assert_eq!(fmt(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(fmt(1_796_292_900, 123_456_789), "2026-12-03T10:15:00.123456789Z");
        // Trailing zeros of the fraction go, leading ones stay.
        assert_eq!(fmt(1_796_292_900, 120_000_000), "2026-12-03T10:15:00.12Z");
        assert_eq!(fmt(1_796_292_900, 5), "2026-12-03T10:15:00.000000005Z");
        assert_eq!(fmt(1_796_292_900, 100), "2026-12-03T10:15:00.0000001Z");
        assert_eq!(fmt(951_782_400, 0), "2000-02-29T00:00:00Z");
        assert_eq!(fmt(1_709_251_199, 999_999_999), "2024-02-29T23:59:59.999999999Z");
        assert_eq!(fmt(4_102_444_800, 0), "2100-01-01T00:00:00Z");
        assert_eq!(fmt(-1, 0), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn zero_time_is_gos() {
        let mut v = Vec::new();
        push_rfc3339_nano(&mut v, None);
        assert_eq!(v, b"0001-01-01T00:00:00Z");
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        // Against a plain day-by-day walk of the calendar from 1970.
        let mut days = 0i64;
        for y in 1970..2370i64 {
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let lens = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            for (m, len) in lens.iter().enumerate() {
                for d in 1..=*len {
                    assert_eq!(civil_from_days(days), (y, m as u32 + 1, d));
                    days += 1;
                }
            }
        }
    }
}
