//! Where a call's progress notifications go: rmcp's peer of the agent (a call rmcp served),
//! or the fast path's own answer (`fast_call`), which turns into an SSE stream when the
//! first of them is sent.

use rmcp::model::{
    ProgressNotification, ProgressNotificationParam, ProgressToken, ServerJsonRpcMessage, ServerNotification,
};
use rmcp::{Peer, RoleServer};
use tokio::sync::mpsc;

/// The agent's progress token and where to send its progress.
pub(crate) type Progress = (ProgressToken, ProgressSink);

/// Where progress for one call goes.
#[derive(Debug, Clone)]
pub(crate) enum ProgressSink {
    /// The agent rmcp is serving.
    Peer(Peer<RoleServer>),
    /// The messages of a fast-path answer, in order (the final response comes last).
    Answer(mpsc::Sender<ServerJsonRpcMessage>),
}

impl ProgressSink {
    /// Send one progress notification; an agent that is gone is not an error of the call.
    pub(crate) async fn notify(&self, params: ProgressNotificationParam) {
        match self {
            Self::Peer(peer) => {
                let _ = peer.notify_progress(params).await;
            }
            Self::Answer(messages) => {
                let note = ServerNotification::ProgressNotification(ProgressNotification::new(params));
                let _ = messages.send(ServerJsonRpcMessage::notification(note)).await;
            }
        }
    }
}
