//! Progress before the answer. rmcp's client hands each notification to a task of its own but
//! gives a response straight to the waiting caller, so a child's last progress notifications
//! could still be on their way to the agent when the call returned (and its route was gone):
//! seen as 3 of 4 progress notifications on a loaded machine. This transport wrapper counts
//! a call's progress as it arrives, in the child's order; the call waits until as many have
//! been delivered before it answers.

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::RoleClient;
use rmcp::model::{JsonRpcMessage, ServerNotification};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;

use super::events::Relay;

/// A child's transport, counting progress notifications for the calls waiting on them.
pub(crate) struct InOrder<T> {
    inner: T,
    relay: Arc<Relay>,
    server: String,
}

impl<T> InOrder<T> {
    pub(crate) fn new(inner: T, relay: Arc<Relay>, server: &str) -> Self {
        Self { inner, relay, server: server.to_string() }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for InOrder<T> {
    type Error = T::Error;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let message = self.inner.receive().await;
        if let Some(JsonRpcMessage::Notification(notification)) = &message
            && let ServerNotification::ProgressNotification(progress) = &notification.notification
        {
            self.relay.progress_arrived(&self.server, &progress.params.progress_token);
        }
        message
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}
