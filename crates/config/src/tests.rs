use super::*;
use serde::Deserialize;
use std::io::Write;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
struct Sample {
    broker_cluster_name: String,
    listen_port: u16,
    delta: i64,
    ratio: f64,
    auto_create_topic_enable: bool,
    namesrv_addr: Option<String>,
}

impl Default for Sample {
    fn default() -> Self {
        Sample {
            broker_cluster_name: "DefaultCluster".into(),
            listen_port: 10911,
            delta: -1,
            ratio: 0.75,
            auto_create_topic_enable: true,
            namesrv_addr: None,
        }
    }
}

fn file(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    (dir, path)
}

#[test]
fn broker_conf_file_sets_typed_values_and_reports_unknown_keys() {
    // Goal: a RocketMQ broker.conf loads with its own key names. Method: a typical file.
    let (_d, path) = file(
        "broker.conf",
        "# comment\nbrokerClusterName = Prod\nlistenPort=10920\n! other comment\nratio: 0.5\nbrokerRole=ASYNC_MASTER\nnamesrvAddr=127.0.0.1:9876;127.0.0.2:9876\n",
    );
    let loaded: Loaded<Sample> = load(&Sources {
        file: Some(&path),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(loaded.config.broker_cluster_name, "Prod");
    assert_eq!(loaded.config.listen_port, 10920);
    assert_eq!(loaded.config.ratio, 0.5);
    assert_eq!(
        loaded.config.namesrv_addr.as_deref(),
        Some("127.0.0.1:9876;127.0.0.2:9876")
    );
    assert!(
        loaded.config.auto_create_topic_enable,
        "untouched keys keep their default"
    );
    assert_eq!(loaded.unknown_keys.len(), 1);
    assert_eq!(loaded.unknown_keys[0].key, "brokerRole");
}

#[test]
fn toml_file_loads_native_and_text_values() {
    // Goal: TOML works with native types and with quoted numbers alike.
    let (_d, path) = file(
        "broker.toml",
        "brokerClusterName = \"T\"\nlistenPort = \"10930\"\nautoCreateTopicEnable = false\ndelta = -5\n",
    );
    let loaded: Loaded<Sample> = load(&Sources {
        file: Some(&path),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(loaded.config.listen_port, 10930);
    assert!(!loaded.config.auto_create_topic_enable);
    assert_eq!(loaded.config.delta, -5);
}

#[test]
fn environment_overrides_file_and_overrides_win_over_environment() {
    // Goal: priority defaults < file < env < overrides, with env names in SCREAMING_SNAKE.
    let (_d, path) = file("b.conf", "listenPort=1\nbrokerClusterName=FromFile\n");
    let sources = Sources {
        file: Some(&path),
        env: vec![
            ("FERROMQ_LISTEN_PORT".into(), "2".into()),
            ("FERROMQ_BROKER_CLUSTER_NAME".into(), "FromEnv".into()),
            ("PATH".into(), "/bin".into()),
            ("FERROMQ_HOME".into(), "/somewhere".into()),
        ],
        overrides: vec![("brokerClusterName".into(), "FromFlag".into())],
    };
    let loaded: Loaded<Sample> = load(&sources).unwrap();
    assert_eq!(loaded.config.listen_port, 2);
    assert_eq!(loaded.config.broker_cluster_name, "FromFlag");
    assert!(loaded.unknown_keys.is_empty());
}

#[test]
fn a_bad_value_names_its_key_value_and_line() {
    // Goal: the operator sees which key is wrong and where. Method: bad port, bad bool.
    let (_d, path) = file("b.conf", "brokerClusterName=x\nlistenPort=abc\n");
    let err = load::<Sample>(&Sources {
        file: Some(&path),
        ..Default::default()
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`listenPort`") && text.contains("\"abc\"") && text.contains(":2"),
        "{text}"
    );
    let sources = Sources {
        env: vec![("FERROMQ_AUTO_CREATE_TOPIC_ENABLE".into(), "yes".into())],
        ..Default::default()
    };
    let err = load::<Sample>(&sources).unwrap_err().to_string();
    assert!(
        err.contains("autoCreateTopicEnable") && err.contains("FERROMQ_AUTO_CREATE_TOPIC_ENABLE"),
        "{err}"
    );
}

#[test]
fn out_of_range_number_is_rejected_not_wrapped() {
    // Goal: 70000 is not a u16 port; the load fails instead of wrapping.
    let sources = Sources {
        overrides: vec![("listenPort".into(), "70000".into())],
        ..Default::default()
    };
    assert!(load::<Sample>(&sources).is_err());
}

#[test]
fn properties_parser_follows_java_rules() {
    // Goal: separators, comments, continuation lines and blank values as java.util.Properties.
    let parsed = parse_properties("a=1\n  b : two \nc\\\n  ontinued=3\n#x=9\nempty=\nd=e=f\n");
    let pairs: Vec<_> = parsed.iter().map(|(_, k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        pairs,
        vec![
            ("a", "1"),
            ("b", "two"),
            ("continued", "3"),
            ("empty", ""),
            ("d", "e=f")
        ]
    );
}

#[test]
fn config_prints_as_sorted_properties() {
    // Goal: the printed form reloads to the same config.
    let text = to_properties(&Sample::default());
    assert!(text.starts_with("autoCreateTopicEnable=true\n"), "{text}");
    let (_d, path) = file("p.conf", &text);
    let loaded: Loaded<Sample> = load(&Sources {
        file: Some(&path),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(loaded.config, Sample::default());
}

proptest::proptest! {
    #[test]
    fn properties_parser_never_panics(text in ".{0,200}") {
        let _ = parse_properties(&text);
    }
}
