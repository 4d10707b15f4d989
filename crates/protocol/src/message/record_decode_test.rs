use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::message::record::{encode_record, DEFAULT_MAX_MESSAGE_BYTES, MAGIC_V1};

fn record(queue_offset: i64, topic: &str, body: Vec<u8>, properties: &str) -> MessageRecord {
    let mut r = MessageRecord::new(topic, Bytes::from(body));
    r.queue_offset = queue_offset;
    r.properties = properties.to_owned();
    r
}

fn encode_all(records: &[MessageRecord]) -> Bytes {
    let mut buf = BytesMut::new();
    for r in records {
        encode_record(r, DEFAULT_MAX_MESSAGE_BYTES, &mut buf).expect("encodable");
    }
    buf.freeze()
}

// Goal: count_records follows the TOTALSIZE chain: every whole record counts, a cut or
// nonsensical size ends the count. Method: three encoded records, then truncations and a
// TOTALSIZE below the smallest record.
#[test]
fn count_records_counts_whole_records_and_stops_at_a_bad_size() {
    let records: Vec<_> = (0..3).map(|i| record(i, "T", vec![b'x'; 10], "A\u{1}b\u{2}")).collect();
    let body = encode_all(&records);
    assert_eq!(count_records(&body), 3);
    assert_eq!(count_records(&body[..body.len() - 1]), 2);
    assert_eq!(count_records(&[]), 0);
    let mut tiny = body.to_vec();
    tiny[0..4].copy_from_slice(&8i32.to_be_bytes());
    assert_eq!(count_records(&tiny), 0);
    let mut negative = body.to_vec();
    negative[0..4].copy_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(count_records(&negative), 0);
}

// Goal: the iterator hands out bodies that are slices of the PULL body (no copy) and advances
// by each record's TOTALSIZE. Method: two records, compare body pointers with the input.
#[test]
fn decoded_bodies_are_slices_of_the_pull_body() {
    let body = encode_all(&[record(0, "T", vec![1; 100], ""), record(1, "T", vec![2; 50], "")]);
    let range = body.as_ptr() as usize..body.as_ptr() as usize + body.len();
    let decoded: Vec<_> = decode_records(&body, true).collect::<Result<_, _>>().expect("valid");
    assert_eq!(decoded.len(), 2);
    for r in &decoded {
        assert!(range.contains(&(r.body.as_ptr() as usize)));
    }
    assert_eq!(decoded[1].body, Bytes::from(vec![2u8; 50]));
}

prop_compose! {
    fn pull_body_strategy()(
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..12),
        topic in "[a-zA-Z0-9_é]{0,20}",
        properties in "[a-zA-Z0-9\u{1}\u{2}]{0,40}",
    ) -> Vec<MessageRecord> {
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| record(i as i64, &topic, body, &properties))
            .collect()
    }
}

proptest! {
    // Goal: a PULL body of N records decodes back to the same N records, and count_records
    // says N. Method: random bodies, topic and properties.
    #[test]
    fn pull_bodies_round_trip_and_are_counted(records in pull_body_strategy()) {
        let body = encode_all(&records);
        prop_assert_eq!(count_records(&body), records.len());
        let decoded: Result<Vec<_>, _> = decode_records(&body, true).collect();
        prop_assert_eq!(decoded, Ok(records));
    }

    // Goal: on arbitrary bytes neither count_records nor the iterator panics, and the count is
    // an upper bound of the records that decode (it is only an allocation hint). Method:
    // random buffers, some with a plausible first header.
    #[test]
    fn arbitrary_pull_bodies_never_panic_and_count_bounds_the_decoded(
        mut data in proptest::collection::vec(any::<u8>(), 0..600),
        magic in any::<bool>(),
    ) {
        if magic && data.len() >= 8 {
            data[4..8].copy_from_slice(&MAGIC_V1.to_be_bytes());
            let len = data.len() as i32;
            data[0..4].copy_from_slice(&len.to_be_bytes());
        }
        let bytes = Bytes::from(data);
        let ok = decode_records(&bytes, false).take_while(Result::is_ok).count();
        prop_assert!(ok <= count_records(&bytes));
    }

    // Goal: a valid body followed by garbage yields the valid records, then exactly one error.
    // Method: random records plus random trailing bytes that cannot form a record.
    #[test]
    fn garbage_after_valid_records_ends_with_one_error(records in pull_body_strategy(), tail in proptest::collection::vec(any::<u8>(), 1..8)) {
        let mut buf = BytesMut::from(&encode_all(&records)[..]);
        buf.extend_from_slice(&tail);
        let items: Vec<_> = decode_records(&buf.freeze(), false).collect();
        prop_assert_eq!(items.len(), records.len() + 1);
        prop_assert!(items[..records.len()].iter().all(Result::is_ok));
        prop_assert!(items[records.len()].is_err());
    }
}
