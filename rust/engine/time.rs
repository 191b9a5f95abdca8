//! Call times, calendars and schedules. The engine never reads the wall clock: every
//! time comes with the request or the event (the binding layer supplies "now" when absent).

use std::collections::HashMap;

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Weekday,
};
use chrono_tz::Tz;

/// A day's type for schedules (`plan-format.md`, "Schedules and calendars").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayType {
    Workday = 0,
    Sat = 1,
    Sun = 2,
    Holiday = 3,
}

impl DayType {
    pub fn parse(key: &str) -> Option<DayType> {
        match key {
            "workday" => Some(DayType::Workday),
            "sat" => Some(DayType::Sat),
            "sun" => Some(DayType::Sun),
            "holiday" => Some(DayType::Holiday),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DayType::Workday => "workday",
            DayType::Sat => "sat",
            DayType::Sun => "sun",
            DayType::Holiday => "holiday",
        }
    }

    /// The type of a date by its weekday alone.
    pub fn by_weekday(date: NaiveDate) -> DayType {
        match date.weekday() {
            Weekday::Sat => DayType::Sat,
            Weekday::Sun => DayType::Sun,
            _ => DayType::Workday,
        }
    }
}

/// A calendar flattened at compile time: the days whose type differs from the weekday rule.
#[derive(Debug, Default, Clone)]
pub struct Calendar {
    pub special: HashMap<NaiveDate, DayType>,
}

impl Calendar {
    /// O(1).
    pub fn day_type(&self, date: NaiveDate) -> DayType {
        self.special
            .get(&date)
            .copied()
            .unwrap_or_else(|| DayType::by_weekday(date))
    }
}

/// Opening hours per day type as minute ranges `[start, end)` of the local day.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub tz: Option<Tz>,
    pub calendar: Option<usize>,
    pub hours: [Vec<(u16, u16)>; 4],
}

impl Schedule {
    /// Whether `instant` (ms since the epoch) falls inside the schedule.
    pub fn holds(&self, instant_ms: i64, plan_tz: Tz, calendars: &[Calendar]) -> bool {
        self.holds_local(instant_ms, local_time(instant_ms, plan_tz), calendars)
    }

    /// Like [`Schedule::holds`], given the instant's local time in the plan's timezone already
    /// (computed once per decision: the timezone conversion is the costly part). O(ranges).
    pub fn holds_local(
        &self,
        instant_ms: i64,
        plan_local: NaiveDateTime,
        calendars: &[Calendar],
    ) -> bool {
        let local = match self.tz {
            Some(tz) => local_time(instant_ms, tz),
            None => plan_local,
        };
        let date = local.date();
        let day = match self.calendar {
            Some(c) => calendars[c].day_type(date),
            None => DayType::by_weekday(date),
        };
        let minute = (local.hour() * 60 + local.minute()) as u16;
        self.hours[day as usize]
            .iter()
            .any(|&(start, end)| start <= minute && minute < end)
    }

    /// Describes why the schedule holds or not at `instant_ms`, for traces.
    pub fn explain(&self, instant_ms: i64, plan_tz: Tz, calendars: &[Calendar]) -> String {
        let local = local_time(instant_ms, self.tz.unwrap_or(plan_tz));
        let date = local.date();
        let day = match self.calendar {
            Some(c) => calendars[c].day_type(date),
            None => DayType::by_weekday(date),
        };
        format!(
            "{} {} is a {} ({} ranges)",
            date,
            local.time().format("%H:%M"),
            day.as_str(),
            self.hours[day as usize].len()
        )
    }
}

/// Parses `HH:MM-HH:MM` into minutes; `24:00` only as an end; the end must be after the start.
pub fn parse_range(text: &str) -> Result<(u16, u16), String> {
    let (a, b) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?} is not a range HH:MM-HH:MM"))?;
    let start = parse_hhmm(a.trim(), false)?;
    let end = parse_hhmm(b.trim(), true)?;
    if end <= start {
        return Err(format!(
            "{text:?}: the end is not after the start (write a night shift as two ranges)"
        ));
    }
    Ok((start, end))
}

fn parse_hhmm(text: &str, is_end: bool) -> Result<u16, String> {
    let bad = || format!("{text:?} is not a time HH:MM");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && (m != 0 || !is_end)) {
        return Err(format!(
            "{text:?} is not a time of day{}",
            if h == 24 {
                " (24:00 is allowed only as an end)"
            } else {
                ""
            }
        ));
    }
    Ok(h * 60 + m)
}

/// The local wall-clock time of an instant in `tz`.
pub fn local_time(instant_ms: i64, tz: Tz) -> NaiveDateTime {
    match DateTime::from_timestamp_millis(instant_ms) {
        Some(utc) => utc.with_timezone(&tz).naive_local(),
        None => NaiveDateTime::default(),
    }
}

/// The local date of an instant in `tz`.
pub fn local_date(instant_ms: i64, tz: Tz) -> NaiveDate {
    local_time(instant_ms, tz).date()
}

pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|e| format!("{text:?} is not a date YYYY-MM-DD ({e})"))
}

pub fn parse_tz(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("unknown timezone {name:?}"))
}

/// Why a time given empty is refused: left out, it is the current time (the server's clock);
/// given, it must be a time. Exported to Python as `_routecore.EMPTY_TIME` for the events' check.
pub const EMPTY_TIME: &str = "empty; leave it out for the current time";

/// Parses a request or event time: RFC 3339 / ISO 8601 with an offset is an instant; without
/// one it is local time in `tz`. Returns ms since the epoch.
pub fn parse_time(text: &str, tz: Tz) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(EMPTY_TIME.to_string());
    }
    let ms = parse_any_time(text, tz)?;
    // chrono reads year 0 (and before); the service's times are the years 1 to 9999, as
    // Python's and the record store's.
    if !(FIRST_MS..=LAST_MS).contains(&ms) {
        return Err(format!("{text:?} is not between the years 1 and 9999"));
    }
    Ok(ms)
}

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z, in milliseconds since the epoch: the
/// times the service takes (request times, seconds since the epoch, call durations).
pub(crate) const FIRST_MS: i64 = -62_135_596_800_000;
pub(crate) const LAST_MS: i64 = 253_402_300_799_999;

fn parse_any_time(text: &str, tz: Tz) -> Result<i64, String> {
    if let Some(ms) = parse_rfc3339_fast(text.as_bytes()) {
        return Ok(ms);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Ok(dt.timestamp_millis());
    }
    let with_t = text.replacen(' ', "T", 1);
    if let Ok(dt) = DateTime::parse_from_rfc3339(&with_t) {
        return Ok(dt.timestamp_millis());
    }
    // Other ISO 8601 forms with an offset: no seconds, or an offset without a colon
    // (`2026-11-11T10:00+08:00`, `2026-11-11T10:00:00+0800`).
    for fmt in [
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(&with_t, fmt) {
            return Ok(dt.timestamp_millis());
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(&with_t, fmt) {
            return tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|dt| dt.timestamp_millis())
                .ok_or_else(|| {
                    format!("{text:?} does not exist in {tz} (a clock change skips it)")
                });
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let naive = date.and_time(NaiveTime::MIN);
        if let Some(dt) = tz.from_local_datetime(&naive).earliest() {
            return Ok(dt.timestamp_millis());
        }
    }
    Err(format!(
        "{text:?} is not ISO 8601 (e.g. 2026-11-11T10:00:00+08:00, or without offset in the plan's timezone)"
    ))
}

/// The common switch form `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` without chrono's general
/// parser (a batch of a million requests spends most of its parsing here otherwise).
/// `None` for anything else, which then takes the general path.
fn parse_rfc3339_fast(b: &[u8]) -> Option<i64> {
    fn num(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    }
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(&b[0..4])? as i32, num(&b[5..7])?, num(&b[8..10])?)?;
    let (h, m, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    let mut rest = &b[19..];
    let mut millis = 0u32;
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let frac = &rest[1..=digits];
        millis = frac
            .iter()
            .take(3)
            .fold(0, |acc, &c| acc * 10 + u32::from(c - b'0'))
            * 10u32.pow(3 - digits.min(3) as u32);
        rest = &rest[1 + digits..];
    }
    let offset_s: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), oh @ ..] if oh.len() == 5 && oh[2] == b':' => {
            let (hours, minutes) = (num(&oh[0..2])?, num(&oh[3..5])?);
            // RFC 3339: an offset's hours are 00-23 and its minutes 00-59; anything else is
            // left to the general parser, which refuses it.
            if hours > 23 || minutes > 59 {
                return None;
            }
            let v = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let naive = date.and_hms_milli_opt(h, m, sec, millis)?;
    Some((naive.and_utc().timestamp() - offset_s) * 1000 + i64::from(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("09:00-12:00"), Ok((540, 720)));
        assert_eq!(parse_range("18:00-24:00"), Ok((1080, 1440)));
        assert!(parse_range("12:00-09:00")
            .unwrap_err()
            .contains("not after"));
        assert!(parse_range("24:00-24:00").is_err());
        assert!(parse_range("9:00-12:00").is_err());
        assert!(parse_range("09:60-12:00").is_err());
        assert!(parse_range("0900-1200").is_err());
    }

    #[test]
    fn times_out_of_range_are_refused() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        for bad in [
            "2026-11-11T02:00:00+99:99",
            "2026-11-11T02:00:00+24:00",
            "2026-11-11T02:00:00-08:60",
            "0000-01-01T00:00:00",
            "0000-06-01T00:00:00Z",
            "0000-06-01",
        ] {
            assert!(parse_time(bad, tz).is_err(), "{bad}");
        }
        assert_eq!(
            parse_time("2026-11-11T02:00:00+23:59", tz),
            Ok(parse_time("2026-11-10T02:01:00Z", tz).unwrap())
        );
        assert!(parse_time("0001-01-01T00:00:00Z", tz).is_ok());
        assert!(parse_time("9999-12-31T23:59:59.999Z", tz).is_ok());
        assert!(parse_time("0001-01-01T00:00:00+08:00", tz).is_err());
    }

    #[test]
    fn times() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let a = parse_time("2026-11-11T10:00:00+08:00", tz).unwrap();
        let b = parse_time("2026-11-11T10:00:00", tz).unwrap();
        let c = parse_time("2026-11-11 02:00:00Z", tz).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        // ISO 8601 with an offset but no seconds, or an offset without its colon.
        for other in [
            "2026-11-11T10:00+08:00",
            "2026-11-11T10:00:00+0800",
            "2026-11-11T10:00+0800",
            "2026-11-11T02:00:00.000+0000",
        ] {
            assert_eq!(parse_time(other, tz), Ok(a), "{other}");
        }
        assert!(parse_time("yesterday", tz).is_err());
        for (fast, slow_equivalent) in [
            ("2026-11-11T10:00:00+08:00", "2026-11-11T02:00:00+00:00"),
            ("2026-11-11T10:00:00.250+08:00", "2026-11-11T02:00:00.25Z"),
            ("2026-11-11 02:00:00Z", "2026-11-11T10:00:00+08:00"),
            ("2026-11-10T21:00:00-05:00", "2026-11-11T10:00:00+08:00"),
        ] {
            assert_eq!(
                parse_rfc3339_fast(fast.as_bytes()),
                DateTime::parse_from_rfc3339(&slow_equivalent.replacen(' ', "T", 1))
                    .ok()
                    .map(|d| d.timestamp_millis()),
                "{fast}"
            );
        }
        assert_eq!(parse_rfc3339_fast(b"2026-02-30T10:00:00Z"), None);
        assert_eq!(parse_rfc3339_fast(b"2026-11-11T25:00:00Z"), None);
        let local = local_time(a, tz);
        assert_eq!((local.hour(), local.minute()), (10, 0));
    }

    #[test]
    fn schedule_with_calendar() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let mut cal = Calendar::default();
        let makeup = NaiveDate::from_ymd_opt(2026, 10, 10).unwrap();
        cal.special.insert(makeup, DayType::Workday);
        let sched = Schedule {
            name: "office".into(),
            tz: None,
            calendar: Some(0),
            hours: [vec![(540, 720)], vec![(600, 960)], vec![], vec![]],
        };
        let cals = [cal];
        let at = |s: &str| parse_time(s, tz).unwrap();
        assert!(sched.holds(at("2026-10-10T09:30:00"), tz, &cals));
        assert!(!sched.holds(at("2026-11-14T09:30:00"), tz, &cals));
        assert!(sched.holds(at("2026-11-14T11:00:00"), tz, &cals));
        assert!(!sched.holds(at("2026-11-11T12:00:00"), tz, &cals));
    }
}
