//! openraft's network over the cluster transport: each Raft RPC is one
//! request on the Placement topic.

use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{EmptyNode, RPCTypes};
use serde::de::DeserializeOwned;

use super::messages::{AppendEntriesReply, InstallSnapshotReply, PlacementRequest, VoteReply};
use super::types::{RaftId, TypeConfig};
use crate::transport::{Envelope, NodeId, RpcError, Topic, Transport};

/// Hands openraft a client per peer; all share the node's transport.
pub(crate) struct Network {
    pub(crate) transport: Transport,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: RaftId, _node: &EmptyNode) -> PeerClient {
        PeerClient {
            transport: self.transport.clone(),
            target,
        }
    }
}

pub(crate) struct PeerClient {
    transport: Transport,
    target: RaftId,
}

type RpcResult<T, E> = Result<T, RPCError<RaftId, EmptyNode, E>>;

impl PeerClient {
    /// Sends `request` and decodes the reply. Transport failures map to
    /// openraft's retry semantics: a timeout is a `Timeout`, anything that
    /// says the peer is down or refused is `Unreachable` (openraft backs off
    /// before retrying), a garbled reply is a `Network` error.
    async fn call<T, E>(
        &self,
        action: RPCTypes,
        request: &PlacementRequest,
        ttl: Duration,
    ) -> RpcResult<T, E>
    where
        T: DeserializeOwned,
        E: std::error::Error,
    {
        let body =
            Envelope::encode_body(request).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let reply = self
            .transport
            .request(NodeId(self.target), Topic::Placement, body, ttl)
            .await
            .map_err(|e| match e {
                RpcError::Timeout { .. } => RPCError::Timeout(Timeout {
                    action,
                    id: self.transport.node_id().0,
                    target: self.target,
                    timeout: ttl,
                }),
                other => RPCError::Unreachable(Unreachable::new(&other)),
            })?;
        postcard::from_bytes(&reply).map_err(|e| RPCError::Network(NetworkError::new(&e)))
    }

    fn remote<E: std::error::Error>(&self, error: E) -> RPCError<RaftId, EmptyNode, E> {
        RPCError::RemoteError(RemoteError::new(self.target, error))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<RaftId>, RaftError<RaftId>> {
        let request = PlacementRequest::AppendEntries(rpc);
        let reply: AppendEntriesReply = self
            .call(RPCTypes::AppendEntries, &request, option.hard_ttl())
            .await?;
        reply.map_err(|fatal| self.remote(RaftError::Fatal(fatal)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<RaftId>, RaftError<RaftId, InstallSnapshotError>> {
        let request = PlacementRequest::InstallSnapshot(rpc);
        let reply: InstallSnapshotReply = self
            .call(RPCTypes::InstallSnapshot, &request, option.hard_ttl())
            .await?;
        reply.map_err(|e| self.remote(e))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<RaftId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<RaftId>, RaftError<RaftId>> {
        let request = PlacementRequest::Vote(rpc);
        let reply: VoteReply = self
            .call(RPCTypes::Vote, &request, option.hard_ttl())
            .await?;
        reply.map_err(|fatal| self.remote(RaftError::Fatal(fatal)))
    }
}
