use super::*;
use chrono::FixedOffset;
use chrono::NaiveDate;
use chrono_tz::America::New_York;
use chrono_tz::Europe::Berlin;

fn wall(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&wall(y, mo, d, h, mi))
}

fn local(at: NaiveDateTime) -> ScheduledTime {
    ScheduledTime {
        at,
        timezone: ScheduleTimezone::Local,
    }
}

#[test]
fn utc_is_one_instant_everywhere() {
    let t = ScheduledTime {
        at: wall(2026, 3, 29, 9, 0),
        timezone: ScheduleTimezone::Utc,
    };
    assert_eq!(t.instant_in(&Berlin), utc(2026, 3, 29, 9, 0));
    assert_eq!(t.instant_in(&New_York), utc(2026, 3, 29, 9, 0));
}

#[test]
fn local_follows_each_device_wall_clock_across_daylight_saving() {
    // Berlin: winter UTC+1, summer UTC+2 from 2026-03-29 02:00 local.
    assert_eq!(
        local(wall(2026, 3, 28, 9, 0)).instant_in(&Berlin),
        utc(2026, 3, 28, 8, 0)
    );
    assert_eq!(
        local(wall(2026, 3, 29, 9, 0)).instant_in(&Berlin),
        utc(2026, 3, 29, 7, 0)
    );
    // New York changed two weeks earlier.
    assert_eq!(
        local(wall(2026, 3, 29, 9, 0)).instant_in(&New_York),
        utc(2026, 3, 29, 13, 0)
    );
}

#[test]
fn a_time_in_the_spring_forward_gap_starts_when_the_gap_ends() {
    // 02:30 does not exist in Berlin on 2026-03-29: clocks go from 02:00 to 03:00 (01:00 UTC).
    assert_eq!(
        local(wall(2026, 3, 29, 2, 30)).instant_in(&Berlin),
        utc(2026, 3, 29, 1, 0)
    );
    assert_eq!(
        local(wall(2026, 3, 29, 1, 59)).instant_in(&Berlin),
        utc(2026, 3, 29, 0, 59)
    );
    assert_eq!(
        local(wall(2026, 3, 29, 3, 0)).instant_in(&Berlin),
        utc(2026, 3, 29, 1, 0)
    );
}

#[test]
fn a_time_that_happens_twice_at_fall_back_means_the_first() {
    // 02:30 happens twice in Berlin on 2026-10-25: at 00:30 UTC (summer) and 01:30 UTC (winter).
    assert_eq!(
        local(wall(2026, 10, 25, 2, 30)).instant_in(&Berlin),
        utc(2026, 10, 25, 0, 30)
    );
    assert_eq!(
        local(wall(2026, 10, 25, 3, 0)).instant_in(&Berlin),
        utc(2026, 10, 25, 2, 0)
    );
}

#[test]
fn a_device_naming_its_zone_gets_daylight_saving_and_one_that_does_not_gets_its_offset() {
    // Winter offset +1 h; the time falls after the spring-forward change, in summer time (+2 h).
    let winter = FixedOffset::east_opt(3600).expect("offset");
    let t = local(wall(2026, 3, 30, 9, 0));
    assert_eq!(
        t.instant_for(Some("Europe/Berlin"), winter),
        utc(2026, 3, 30, 7, 0)
    );
    assert_eq!(t.instant_for(None, winter), utc(2026, 3, 30, 8, 0));
    // A name the database does not know falls back to the offset rather than guessing.
    assert_eq!(
        t.instant_for(Some("W. Europe Standard Time"), winter),
        utc(2026, 3, 30, 8, 0)
    );
}

#[test]
fn fixed_offsets_still_work() {
    let offset = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
    assert_eq!(
        local(wall(2026, 1, 1, 12, 0)).instant(offset),
        utc(2026, 1, 1, 6, 30)
    );
    assert_eq!(
        local(wall(2026, 1, 1, 12, 0)).instant_in(&offset),
        utc(2026, 1, 1, 6, 30)
    );
}

#[test]
fn computer_selection_all_except_and_none_except() {
    let a = ObjectGuid::new();
    let b = ObjectGuid::new();
    let all = ComputerSelection {
        mode: SelectionMode::AllExcept,
        computers: vec![a],
    };
    assert!(!all.includes(&a));
    assert!(all.includes(&b));
    let none = ComputerSelection {
        mode: SelectionMode::NoneExcept,
        computers: vec![a],
    };
    assert!(none.includes(&a));
    assert!(!none.includes(&b));
}
