use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use proptest::prelude::*;

use super::*;

// Goal: offsetMsgId is the uppercase hex of ip, i32 port and i64 offset. Method: an id written
// out by hand for 10.0.0.1:10911 at offset 0x1234ABCD.
#[test]
fn offset_msg_id_matches_the_hand_built_hex() {
    let host = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 10911);
    let id = create_offset_msg_id(host, 0x1234_ABCD);
    assert_eq!(id, "0A00000100002A9F000000001234ABCD");
    assert_eq!(
        parse_offset_msg_id(&id),
        Ok(OffsetMsgId {
            store_host: host,
            phy_offset: 0x1234_ABCD
        })
    );
    assert_eq!(
        parse_offset_msg_id(&id.to_lowercase()).map(|m| m.phy_offset),
        Ok(0x1234_ABCD)
    );
}

// Goal: IPv6 store hosts give 56 hex chars. Method: ::1 port 1 offset 2, hand-built.
#[test]
fn ipv6_offset_msg_id_has_56_hex_chars() {
    let host = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 1);
    let id = create_offset_msg_id(host, 2);
    assert_eq!(id, format!("{}1{}{}", "0".repeat(31), "00000001", "0000000000000002"));
    assert_eq!(id.len(), MSG_ID_HEX_LEN_V6);
    assert_eq!(parse_offset_msg_id(&id).map(|m| m.store_host), Ok(host));
}

// Goal: malformed ids are typed errors. Method: wrong length, non-hex, port beyond u16.
#[test]
fn malformed_offset_msg_ids_are_rejected() {
    for id in [
        "",
        "0A00",
        &"G".repeat(32),
        &"0".repeat(33),
        "0A0000010001000000000000000000é",
    ] {
        assert!(
            matches!(parse_offset_msg_id(id), Err(MessageError::InvalidMessageId { .. })),
            "{id:?} accepted"
        );
    }
    let port_too_big = "0A00000100010000000000001234ABCD";
    assert!(matches!(
        parse_offset_msg_id(port_too_big),
        Err(MessageError::InvalidMessageId {
            reason: "port out of range",
            ..
        })
    ));
}

// Goal: parsing a real Java UNIQ_KEY extracts ip, pid, hash, time and counter. Method: an id
// from a Java client, split by hand: 0A644A05 | 000D | 77774571 | 685080CB | 00FE.
#[test]
fn java_uniq_key_parses_into_its_parts() {
    let id = parse_uniq_id("0A644A05000D77774571685080CB00FE").expect("valid");
    assert_eq!(
        id,
        UniqId {
            ip: IpAddr::V4(Ipv4Addr::new(10, 100, 74, 5)),
            pid: 0x000D,
            class_loader_hash: 0x7777_4571,
            ms_since_month_start: 0x6850_80CB,
            counter: 0x00FE,
        }
    );
}

// Goal: the generator writes ip, low 16 bits of pid, hash, ms since month start (UTC) and an
// incrementing counter. Method: 2024-03-05T00:00:01Z is 4 days + 1 s = 345601000 ms
// (0x149973E8) after 2024-03-01, computed independently.
#[test]
fn generator_writes_the_reference_layout() {
    let generator = UniqIdGenerator::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 0x1_2345, 0x0BAD_F00D);
    let now = 1_709_596_801_000;
    assert_eq!(generator.next_id_at(now), "7F00000123450BADF00D149973E80000");
    assert_eq!(generator.next_id_at(now), "7F00000123450BADF00D149973E80001");
    let parsed = parse_uniq_id(&generator.next_id_at(now)).expect("valid");
    assert_eq!(parsed.counter, 2);
    assert_eq!(parsed.pid, 0x2345);
    assert_eq!(parsed.born_time_ms(now + 1), now);
}

// Goal: IPv6 clients give 56-char keys. Method: generate and parse.
#[test]
fn ipv6_uniq_key_has_56_hex_chars() {
    let ip = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 1, 2, 3, 4));
    let id = UniqIdGenerator::new(ip, 7, -1).next_id_at(0);
    assert_eq!(id.len(), MSG_ID_HEX_LEN_V6);
    let parsed = parse_uniq_id(&id).expect("valid");
    assert_eq!((parsed.ip, parsed.pid, parsed.class_loader_hash), (ip, 7, -1));
}

// Goal: late in a 31-day month the ms count exceeds i32::MAX and must be read unsigned, as Java's
// getNearlyTimeFromID does. Method: 2024-01-31T23:59:59.999Z (0x9FA523FF ms into January).
#[test]
fn late_month_time_exceeds_i32_and_is_read_unsigned() {
    let generator = UniqIdGenerator::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1, 1);
    let now = 1_706_745_599_999;
    let id = parse_uniq_id(&generator.next_id_at(now)).expect("valid");
    assert_eq!(id.ms_since_month_start, 0x9FA5_23FF);
    // Read back in early February: the time lies in the previous month.
    assert_eq!(id.born_time_ms(1_706_745_600_000 + 1000), now);
}

// Goal: month starts are right across leap years and before 1970. Method: dates computed
// independently (Python datetime).
#[test]
fn month_start_is_midnight_utc_of_day_one() {
    assert_eq!(month_start_ms(1_709_596_801_000), 1_709_251_200_000); // 2024-03-05 -> 03-01
    assert_eq!(month_start_ms(951_825_600_000), 949_363_200_000); // 2000-02-29 12:00 -> 02-01
    assert_eq!(month_start_ms(-1_468_800_000), -2_678_400_000); // 1969-12-15 -> 12-01
    assert_eq!(month_start_ms(1_706_745_600_000), 1_706_745_600_000); // exactly 2024-02-01
    assert_eq!(month_start_ms(0), 0);
}

// Goal: the generator is thread-safe: concurrent callers never get the same id. Method: 4
// threads x 1000 ids at a fixed time, all distinct.
#[test]
fn concurrent_generation_gives_distinct_ids() {
    let generator = Arc::new(UniqIdGenerator::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1, 1));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let generator = Arc::clone(&generator);
            std::thread::spawn(move || (0..1000).map(|_| generator.next_id_at(5)).collect::<Vec<_>>())
        })
        .collect();
    let mut all: Vec<String> = handles.into_iter().flat_map(|h| h.join().expect("thread")).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4000);
}

// Goal: a generator for this process yields parseable ids with the current time. Method: parse
// and estimate the born time against the clock.
#[test]
fn process_generator_stamps_the_current_time() {
    let generator = UniqIdGenerator::for_this_process(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let before = now_ms();
    let id = parse_uniq_id(&generator.next_id()).expect("valid");
    let born = id.born_time_ms(now_ms() + 1);
    assert!(born >= before - 1 && born <= now_ms(), "born {born} before {before}");
    assert_eq!(id.pid, (std::process::id() & 0xFFFF) as u16);
}

fn ip_strategy() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from)
    ]
}

proptest! {
    // Goal: offsetMsgId round trips. Method: random hosts and offsets.
    #[test]
    fn offset_msg_id_round_trips(ip in ip_strategy(), port in any::<u16>(), offset in any::<i64>()) {
        let host = SocketAddr::new(ip, port);
        let id = create_offset_msg_id(host, offset);
        prop_assert_eq!(parse_offset_msg_id(&id), Ok(OffsetMsgId { store_host: host, phy_offset: offset }));
    }

    // Goal: the id appended to a buffer is exactly the created one, after whatever the buffer
    // held. Method: random hosts, offsets and buffer prefixes.
    #[test]
    fn pushed_offset_msg_id_equals_the_created_one(
        ip in ip_strategy(), port in any::<u16>(), offset in any::<i64>(),
        prefix in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let host = SocketAddr::new(ip, port);
        let mut out = prefix.clone();
        push_offset_msg_id(&mut out, host, offset);
        prop_assert_eq!(out.get(..prefix.len()), Some(&prefix[..]));
        let created = create_offset_msg_id(host, offset);
        prop_assert_eq!(out.get(prefix.len()..), Some(created.as_bytes()));
    }

    // Goal: UNIQ_KEY round trips and the born time is recovered within the same or next month.
    // Method: random parts and times from 1970 to 2100, read back 1 ms to 20 days later.
    #[test]
    fn uniq_id_round_trips(ip in ip_strategy(), pid in any::<u32>(), hash in any::<i32>(),
                           now in 0i64..4_102_444_800_000, later in 1i64..(20 * 86_400_000)) {
        let generator = UniqIdGenerator::new(ip, pid, hash);
        let id = parse_uniq_id(&generator.next_id_at(now)).expect("valid");
        prop_assert_eq!((id.ip, id.pid, id.class_loader_hash, id.counter), (ip, (pid & 0xFFFF) as u16, hash, 0));
        prop_assert_eq!(id.born_time_ms(now + later), now);
    }

    // Goal: the cached month gives exactly the uncached time since the month's start, whatever
    // order times come in. Method: one generator, random times from 1900 to 2100 and steps
    // around them (same ms, next ms, month and leap-day edges, backwards), each compared with
    // `now - month_start_ms(now)`.
    #[test]
    fn cached_month_equals_the_calendar(
        times in proptest::collection::vec(
            (-2_208_988_800_000i64..4_102_444_800_000, -40i64 * 86_400_000..40 * 86_400_000), 1..40)
    ) {
        let generator = UniqIdGenerator::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1, 2);
        for (base, step) in times {
            for now in [base, base + step, month_start_ms(base), month_start_ms(base) - 1, base + 1] {
                prop_assert_eq!(generator.since_month_start(now), now - month_start_ms(now));
            }
        }
    }

    // Goal: the table-driven hex is Java's `bytes2string` (uppercase, two digits a byte) for
    // any length, chunk boundaries included. Method: random bytes up to three chunks long
    // against `format!("{:02X}")`, and appended after a prefix.
    #[test]
    fn hex_is_uppercase_two_digits_per_byte(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let reference: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        prop_assert_eq!(to_hex(&bytes), reference.clone());
        let mut appended = String::from("AB");
        push_hex(&mut appended, &bytes);
        prop_assert_eq!(appended, format!("AB{reference}"));
    }

    // Goal: arbitrary strings never panic the parsers. Method: random strings, some of valid length.
    #[test]
    fn arbitrary_ids_never_panic(s in "[0-9A-Fa-fé]{0,60}") {
        let _ = parse_offset_msg_id(&s);
        let _ = parse_uniq_id(&s);
    }
}
