//! `NamesrvConfig` loads through the shared `ferromq-config` loader from a RocketMQ
//! `namesrv.conf` style file and `FERROMQ_*` variables.

use ferromq_config::{load, Sources};
use ferromq_namesrv::NamesrvConfig;

#[test]
fn java_namesrv_conf_and_env_overrides_load() -> anyhow::Result<()> {
    // Goal: the struct plugs into the shared loader with RocketMQ key names (thread-pool keys
    // of Java files included). Method: write a key=value file, add one env override, load,
    // validate.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("namesrv.conf");
    std::fs::write(
        &path,
        "listenPort=19876\nkvConfigPath=/data/kv.json\norderMessageEnable=true\ndefaultThreadPoolNums=4\n",
    )?;
    let sources = Sources {
        file: Some(&path),
        env: vec![("FERROMQ_SCAN_NOT_ACTIVE_BROKER_INTERVAL".into(), "1000".into())],
        overrides: Vec::new(),
    };
    let loaded = load::<NamesrvConfig>(&sources)?;
    assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
    let config = loaded.config;
    assert_eq!(config.listen_port, 19876);
    assert_eq!(config.kv_config_path, std::path::PathBuf::from("/data/kv.json"));
    assert!(config.order_message_enable);
    assert_eq!(config.default_thread_pool_nums, 4);
    assert_eq!(config.scan_not_active_broker_interval_ms, 1000);
    config.validate()?;
    Ok(())
}
