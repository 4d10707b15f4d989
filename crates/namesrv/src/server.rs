//! The name server's entry point: the dispatch table over the remoting server, the liveness
//! tasks, and graceful shutdown.
//!
//! Every code of [`NAMESRV_REQUEST_CODES`] goes to one processor that calls
//! [`processor::process`]; other codes are answered REQUEST_CODE_NOT_SUPPORTED by the remoting
//! dispatcher, and the connection stays open.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::{
    CancellationToken, Dispatcher, RemotingServer, RequestContext, RequestProcessor, Response, ServerConfig,
};
use tokio::net::TcpListener;

use crate::config::NamesrvConfig;
use crate::error::NamesrvError;
use crate::liveness::{scan_not_active_brokers, ConnectionWatch};
use crate::processor::{self, NAMESRV_REQUEST_CODES};
use crate::state::NamesrvState;

/// Runs a name server on `listener` until `shutdown` is cancelled, then drains connections and
/// returns. The KV config is loaded from `config.kvConfigPath` first.
pub async fn run(
    listener: TcpListener,
    config: NamesrvConfig,
    shutdown: CancellationToken,
) -> Result<(), NamesrvError> {
    let state = Arc::new(NamesrvState::new(config)?);
    serve(listener, state, shutdown).await
}

/// [`run`] over a state the caller keeps (tests inspect the route table through it).
pub async fn serve(
    listener: TcpListener,
    state: Arc<NamesrvState>,
    shutdown: CancellationToken,
) -> Result<(), NamesrvError> {
    let server = RemotingServer::from_listener(listener, ServerConfig::default())?;
    let local = server.local_addr().ok();
    let tasks = shutdown.child_token();
    let watch = Arc::new(ConnectionWatch::default());
    let dispatcher = Arc::new(dispatcher(&state, &watch, &tasks));
    let scan = tokio::spawn(scan_not_active_brokers(
        Arc::clone(&state),
        Arc::clone(&watch),
        tasks.clone(),
    ));
    tracing::info!(addr = ?local, kv_config = %state.kv_config.path().display(), "name server started");

    let served = server.run(dispatcher, shutdown.clone()).await;
    tasks.cancel();
    if let Err(error) = scan.await {
        tracing::error!(%error, "dead-broker scan task failed");
    }
    tracing::info!(addr = ?local, "name server stopped");
    served.map_err(NamesrvError::from)
}

/// The dispatch table: every name-server code to one processor.
pub fn dispatcher(state: &Arc<NamesrvState>, watch: &Arc<ConnectionWatch>, tasks: &CancellationToken) -> Dispatcher {
    let processor: Arc<dyn RequestProcessor> = Arc::new(NamesrvProcessor {
        state: Arc::clone(state),
        watch: Arc::clone(watch),
        tasks: tasks.clone(),
    });
    let mut dispatcher = Dispatcher::new();
    for code in NAMESRV_REQUEST_CODES {
        dispatcher.register(*code, Arc::clone(&processor));
    }
    dispatcher
}

struct NamesrvProcessor {
    state: Arc<NamesrvState>,
    watch: Arc<ConnectionWatch>,
    tasks: CancellationToken,
}

impl RequestProcessor for NamesrvProcessor {
    fn process(
        &self,
        ctx: RequestContext,
        request: RemotingCommand,
    ) -> Pin<Box<dyn Future<Output = Option<Response>> + Send + 'static>> {
        let connection = ctx.connection();
        let response = processor::process(&self.state, &request, Some(connection.id()));
        let registered = request.request_code_enum() == RequestCode::RegisterBroker
            && response.response_code_enum() == ResponseCode::Success;
        if registered {
            // After the registration, so a close that already happened removes it.
            self.watch.watch(&self.state, connection, &self.tasks);
        }
        Box::pin(std::future::ready(Some(response.into())))
    }
}
