//! The dispatch table: request code -> processor, built once and shared by the main and VIP
//! listeners.
//!
//! Every route goes through `route`, which turns a processor's `Err(BrokerError)` into a
//! response with [`BrokerError::response_code`] and the error text as remark, and counts the
//! answer in the metrics. Codes not listed here are answered REQUEST_CODE_NOT_SUPPORTED (3) by
//! the remoting layer, and the connection stays open.

use std::future::Future;
use std::sync::Arc;

use ferromq_protocol::{ReceivedSend, RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::{Dispatcher, FnProcessor, RequestContext, RequestProcessor, Response};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::processor::{
    admin_config, admin_group, admin_stats, admin_topic, consumer_offset, heartbeat, lock_batch, pull_message,
    query_message, send_back, send_message,
};

/// The response carrying `error`.
pub fn error_response(request: &RemotingCommand, error: &BrokerError) -> RemotingCommand {
    RemotingCommand::response_to(request, error.response_code()).with_remark(error.to_string())
}

/// The answer to a request with code `request_code` whose handler returned `result`: its
/// response, or one carrying the error's code and text, addressed as `reply_to` (the request,
/// or its SUCCESS response when the handler took the request); counted in the metrics.
fn answer<R: Into<Response>>(
    broker: &Broker,
    request_code: i32,
    reply_to: &RemotingCommand,
    result: Result<R, BrokerError>,
) -> Response {
    let response: Response = match result {
        Ok(response) => response.into(),
        Err(error) => {
            let code = error.response_code();
            if matches!(code, ResponseCode::SystemError | ResponseCode::ServiceNotAvailable) {
                tracing::warn!(request_code, %code, %error, "request failed");
            } else {
                tracing::debug!(request_code, %code, %error, "request refused");
            }
            error_response(reply_to, &error).into()
        }
    };
    broker.metrics.record_response(request_code, response.code());
    response
}

/// Routes `code` to `handler`, which answers a command or any other [`Response`] (a send's
/// result encodes itself).
fn route<F, Fut, R>(dispatcher: &mut Dispatcher, broker: &Arc<Broker>, code: RequestCode, handler: F)
where
    F: Fn(Arc<Broker>, RequestContext, RemotingCommand) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, BrokerError>> + Send + 'static,
    R: Into<Response>,
{
    let broker = Arc::clone(broker);
    let handler = Arc::new(handler);
    let processor = FnProcessor::new(move |ctx: RequestContext, request: RemotingCommand| {
        let broker = Arc::clone(&broker);
        let handler = Arc::clone(&handler);
        async move {
            // The handler takes the request: keep what an error response needs.
            let request_code = request.code;
            let template = RemotingCommand::response_to(&request, ResponseCode::Success);
            let result = handler(Arc::clone(&broker), ctx, request).await;
            Some(answer(&broker, request_code, &template, result))
        }
    });
    dispatcher.register(code, Arc::new(processor));
}

/// The send codes' processor: a command goes through [`send_message::process`], a send the
/// connection decoded with the send decoder through [`send_message::process_received`] (its
/// header read in place); both answer as [`route`] does.
struct SendProcessor {
    broker: Arc<Broker>,
}

impl RequestProcessor for SendProcessor {
    fn process(&self, ctx: RequestContext, request: RemotingCommand) -> BoxFuture<'static, Option<Response>> {
        let broker = Arc::clone(&self.broker);
        async move {
            let result = send_message::process(&broker, &ctx, &request).await;
            Some(answer(&broker, request.code, &request, result))
        }
        .boxed()
    }

    fn process_send(&self, ctx: RequestContext, request: ReceivedSend) -> BoxFuture<'static, Option<Response>> {
        let broker = Arc::clone(&self.broker);
        // The request stays owned here and is lent to the handler, so no response template
        // is built per send (an error response is addressed from the request itself).
        async move {
            let result = send_message::process_received(&broker, &ctx, &request).await;
            Some(answer(&broker, request.command().code, request.command(), result))
        }
        .boxed()
    }
}

/// Builds the broker's dispatch table.
pub fn build(broker: &Arc<Broker>) -> Dispatcher {
    use RequestCode as C;
    let mut d = Dispatcher::new();
    // SEND_REPLY_MESSAGE(_V2) are not routed: storing a reply without pushing it to the
    // requester (PUSH_REPLY_MESSAGE_TO_CLIENT) would only make the request time out later.
    let send: Arc<dyn RequestProcessor> = Arc::new(SendProcessor {
        broker: Arc::clone(broker),
    });
    for code in [C::SendMessage, C::SendMessageV2, C::SendBatchMessage] {
        d.register(code, Arc::clone(&send));
    }
    route(&mut d, broker, C::PullMessage, pull_message::process);
    route(&mut d, broker, C::LitePullMessage, pull_message::process);

    route(
        &mut d,
        broker,
        C::QueryConsumerOffset,
        consumer_offset::query_consumer_offset,
    );
    route(
        &mut d,
        broker,
        C::UpdateConsumerOffset,
        consumer_offset::update_consumer_offset,
    );
    route(
        &mut d,
        broker,
        C::GetAllConsumerOffset,
        consumer_offset::get_all_consumer_offset,
    );
    route(&mut d, broker, C::GetMaxOffset, consumer_offset::get_max_offset);
    route(&mut d, broker, C::GetMinOffset, consumer_offset::get_min_offset);
    route(
        &mut d,
        broker,
        C::SearchOffsetByTimestamp,
        consumer_offset::search_offset_by_timestamp,
    );
    route(
        &mut d,
        broker,
        C::GetEarliestMsgStoretime,
        consumer_offset::get_earliest_msg_storetime,
    );

    route(&mut d, broker, C::HeartBeat, heartbeat::heart_beat);
    route(&mut d, broker, C::UnregisterClient, heartbeat::unregister_client);
    route(
        &mut d,
        broker,
        C::GetConsumerListByGroup,
        heartbeat::get_consumer_list_by_group,
    );
    route(&mut d, broker, C::CheckClientConfig, heartbeat::check_client_config);
    route(&mut d, broker, C::LockBatchMq, lock_batch::lock_batch_mq);
    route(&mut d, broker, C::UnlockBatchMq, lock_batch::unlock_batch_mq);
    route(
        &mut d,
        broker,
        C::ConsumerSendMsgBack,
        send_back::consumer_send_msg_back,
    );

    route(&mut d, broker, C::ViewMessageById, query_message::view_message_by_id);
    route(&mut d, broker, C::QueryMessage, query_message::query_message);

    route(
        &mut d,
        broker,
        C::UpdateAndCreateTopic,
        admin_topic::update_and_create_topic,
    );
    route(
        &mut d,
        broker,
        C::DeleteTopicInBroker,
        admin_topic::delete_topic_in_broker,
    );
    route(&mut d, broker, C::GetAllTopicConfig, admin_topic::get_all_topic_config);
    route(&mut d, broker, C::GetTopicConfig, admin_topic::get_topic_config);
    route(
        &mut d,
        broker,
        C::UpdateAndCreateSubscriptiongroup,
        admin_group::update_and_create_subscription_group,
    );
    route(
        &mut d,
        broker,
        C::GetAllSubscriptiongroupConfig,
        admin_group::get_all_subscription_group_config,
    );
    route(
        &mut d,
        broker,
        C::DeleteSubscriptiongroup,
        admin_group::delete_subscription_group,
    );
    route(
        &mut d,
        broker,
        C::GetSubscriptiongroupConfig,
        admin_group::get_subscription_group_config,
    );
    route(
        &mut d,
        broker,
        C::GetBrokerRuntimeInfo,
        admin_stats::get_broker_runtime_info,
    );
    route(&mut d, broker, C::GetTopicStatsInfo, admin_stats::get_topic_stats_info);
    route(&mut d, broker, C::GetConsumeStats, admin_stats::get_consume_stats);
    route(
        &mut d,
        broker,
        C::GetConsumerConnectionList,
        admin_stats::get_consumer_connection_list,
    );
    route(
        &mut d,
        broker,
        C::GetProducerConnectionList,
        admin_stats::get_producer_connection_list,
    );
    route(&mut d, broker, C::GetBrokerConfig, admin_config::get_broker_config);
    route(
        &mut d,
        broker,
        C::UpdateBrokerConfig,
        admin_config::update_broker_config,
    );
    d
}
