//! Messages shaped as S3 sends them (AWS's "Event message structure", event version 2.1), and
//! what the ledger reads from them.

use time::macros::datetime;

use super::{decode_key, parse};
use crate::identity::{ObjectChange, Sequencer};

/// One record as S3 writes it, every field present.
fn record(name: &str, key: &str, size: Option<u64>, sequencer: &str) -> String {
    let size = size.map_or(String::new(), |s| format!(r#""size":{s},"#));
    format!(
        r#"{{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
        "eventTime":"2026-12-07T10:00:01.250Z","eventName":"{name}",
        "userIdentity":{{"principalId":"AWS:AROAEXAMPLE:stsvend-abc"}},
        "requestParameters":{{"sourceIPAddress":"203.0.113.9"}},
        "responseElements":{{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"}},
        "s3":{{"s3SchemaVersion":"1.0","configurationId":"stsvend-usage",
          "bucket":{{"name":"stsvend-abc","ownerIdentity":{{"principalId":"A3NL1KOZZKExample"}},"arn":"arn:aws:s3:::stsvend-abc"}},
          "object":{{"key":"{key}",{size}"eTag":"d41d8cd98f00b204e9800998ecf8427e","sequencer":"{sequencer}"}}}}}}"#
    )
}

fn message(records: &[String]) -> String {
    format!(r#"{{"Records":[{}]}}"#, records.join(","))
}

#[test]
fn a_put_gives_the_decoded_key_its_size_sequencer_and_time() {
    let n = parse(&message(&[record(
        "ObjectCreated:Put",
        "photos/red+flower.jpg",
        Some(1024),
        "0055AED6DCD90281E5",
    )]));
    assert_eq!((n.test_events, n.unparsable, n.other_kinds), (0, 0, 0));
    let [e] = n.events.as_slice() else {
        panic!("one event: {n:?}")
    };
    assert_eq!(e.bucket, "stsvend-abc");
    assert_eq!(e.key, "photos/red flower.jpg");
    assert_eq!(e.change, ObjectChange::Created { size: 1024 });
    assert_eq!(e.sequencer, Sequencer::parse("55AED6DCD90281E5").unwrap());
    assert_eq!(e.time, datetime!(2026-12-07 10:00:01.250 UTC));
}

#[test]
fn every_kind_of_creation_sets_the_size_and_a_completed_multipart_upload_counts_once() {
    for name in [
        "ObjectCreated:Put",
        "ObjectCreated:Post",
        "ObjectCreated:Copy",
        "ObjectCreated:CompleteMultipartUpload",
    ] {
        let n = parse(&message(&[record(name, "big.bin", Some(26_214_400), "1")]));
        assert_eq!(n.events.len(), 1, "{name}");
        assert_eq!(n.events[0].change, ObjectChange::Created { size: 26_214_400 }, "{name}");
    }
}

#[test]
fn a_delete_and_a_delete_marker_both_remove_the_key() {
    let n = parse(&message(&[
        record("ObjectRemoved:Delete", "a.txt", None, "0055AED6DCD90281E6"),
        record("ObjectRemoved:DeleteMarkerCreated", "b.txt", None, "0055AED6DCD90281E7"),
        record("LifecycleExpiration:Delete", "c.txt", None, "0055AED6DCD90281E8"),
    ]));
    assert_eq!(n.unparsable, 0);
    let changes: Vec<_> = n.events.iter().map(|e| (e.key.as_str(), e.change)).collect();
    assert_eq!(
        changes,
        [
            ("a.txt", ObjectChange::Removed),
            ("b.txt", ObjectChange::Removed),
            ("c.txt", ObjectChange::Removed)
        ]
    );
}

#[test]
fn the_test_event_is_counted_and_holds_no_object_event() {
    let n = parse(
        r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-12-07T09:57:02.089Z",
            "Bucket":"stsvend-abc","RequestId":"5582815E1AEA5ADF",
            "HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YoI+E5JDdP1QkAcsWlMp"}"#,
    );
    assert_eq!((n.events.len(), n.test_events, n.unparsable), (0, 1, 0));
}

#[test]
fn keys_are_decoded_as_s3_encodes_them() {
    assert_eq!(decode_key("a+b").as_deref(), Some("a b"));
    assert_eq!(decode_key("a%2Bb").as_deref(), Some("a+b"));
    assert_eq!(decode_key("100%25+done").as_deref(), Some("100% done"));
    assert_eq!(decode_key("r%C3%A9sum%C3%A9%2F%E6%97%A5").as_deref(), Some("résumé/日"));
    assert_eq!(decode_key("%f0%9f%98%80").as_deref(), Some("😀"), "lower-case hex");
    assert_eq!(decode_key("plain/key.txt").as_deref(), Some("plain/key.txt"));
    for bad in ["%", "%2", "%zz", "%C3", "%FF", "a%+1"] {
        assert_eq!(decode_key(bad), None, "{bad}");
    }
}

#[test]
fn a_record_that_does_not_parse_is_counted_and_the_rest_of_its_message_still_counts() {
    let n = parse(&message(&[
        record("ObjectCreated:Put", "ok.txt", Some(5), "A1"),
        record("ObjectCreated:Put", "no-size.txt", None, "A2"),
        record("ObjectCreated:Put", "bad%ZZ", Some(5), "A3"),
        record("ObjectCreated:Put", "long-seq.txt", Some(5), &"1".repeat(33)),
        record("ObjectCreated:Put", "not-hex.txt", Some(5), "XYZ"),
        r#"{"eventName":"ObjectCreated:Put"}"#.to_owned(),
        "42".to_owned(),
        record("ObjectTagging:Put", "tagged.txt", None, "A4"),
        record("ObjectRemoved:Delete", "gone.txt", None, "A5"),
    ]));
    let keys: Vec<_> = n.events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["ok.txt", "gone.txt"]);
    assert_eq!((n.unparsable, n.other_kinds, n.test_events), (6, 1, 0));
}

#[test]
fn a_record_without_a_sequencer_or_with_a_bad_time_is_unparsable() {
    let no_seq = record("ObjectCreated:Put", "k", Some(1), "1").replace(r#","sequencer":"1""#, "");
    let bad_time = record("ObjectCreated:Put", "k", Some(1), "1").replace("2026-12-07T10:00:01.250Z", "yesterday");
    let n = parse(&message(&[no_seq, bad_time]));
    assert_eq!((n.events.len(), n.unparsable), (0, 2));
}

#[test]
fn a_body_that_is_not_a_notification_counts_as_one_unparsable_message() {
    for body in [
        "",
        "not json",
        "[]",
        r#"{"Event":"s3:SomethingElse"}"#,
        r#"{"Records":"x"}"#,
    ] {
        let n = parse(body);
        assert_eq!((n.events.len(), n.unparsable, n.test_events), (0, 1, 0), "{body:?}");
    }
}

/// A small in-crate fuzz (no fuzz target: the parser is a few lines over serde): every
/// truncation of a real message, and every byte of it replaced by characters that matter to
/// JSON, form encoding and hex, parses without a panic into events that keep the invariants.
#[test]
fn mangled_messages_never_panic_and_what_parses_is_well_formed() {
    let real = message(&[
        record("ObjectCreated:Put", "a+b%2Bc/%C3%A9", Some(7), "0055AED6DCD90281E5"),
        record("ObjectRemoved:Delete", "gone", None, "0055AED6DCD90281E6"),
    ]);
    let check = |body: &str| {
        let n = parse(body);
        for e in &n.events {
            assert_eq!(e.sequencer.as_str().len(), crate::identity::SEQUENCER_WIDTH, "{body}");
            if let ObjectChange::Created { size } = e.change {
                assert!(i64::try_from(size).is_ok());
            }
        }
        assert!(n.events.len() + (n.unparsable + n.other_kinds + n.test_events) as usize >= 1);
    };
    for end in 0..=real.len() {
        if real.is_char_boundary(end) {
            check(&real[..end]);
        }
    }
    for (at, _) in real.char_indices() {
        for with in ["\"", "%", "+", "}", "0", "G", "é", "-1", "99999999999999999999"] {
            let mut body = real.clone();
            body.replace_range(at..=at, with);
            check(&body);
        }
    }
}
