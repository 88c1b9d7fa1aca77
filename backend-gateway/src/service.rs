//! `BackendService` as errbotd calls it: Start picks the adapter, the other calls go to it.
//!
//! The session (`Session`, run by [`crate::session`]) carries everything per message on one
//! stream: inbound events up, errbotd's `send` and `processed` frames down, and a `sent` event
//! up for every `send`.

use std::sync::{Arc, OnceLock};

use errbot_proto::v1::backend_service_server::BackendService;
use errbot_proto::v1::{
    BackendInfo, BuildIdentifierRequest, DestroyRoomRequest, DestroyRoomResponse, GetRoomRequest,
    Identifier, InviteToRoomRequest, InviteToRoomResponse, JoinRoomRequest, LeaveRoomRequest,
    LeaveRoomResponse, ListRoomsRequest, ListRoomsResponse, RoomInfo, SessionFrame,
    SetRoomTopicRequest, StartRequest,
};
use tonic::{Request, Response, Status, Streaming};

use crate::adapters::{self, Adapter, Context};
use crate::events::{EventQueue, EventStream};
use crate::session;

/// The gateway's `BackendService`.
pub struct Gateway {
    name: String,
    events: EventQueue,
    adapter: Arc<OnceLock<Arc<dyn Adapter>>>,
    starting: tokio::sync::Mutex<()>,
}

impl Gateway {
    /// A gateway named `name` (the contract's ERRBOT_NAME), not started yet.
    pub fn new(name: String, events: EventQueue) -> Self {
        Self {
            name,
            events,
            adapter: Arc::default(),
            starting: tokio::sync::Mutex::new(()),
        }
    }

    /// A handle to the adapter once Start succeeded (for shutdown).
    pub fn adapter_slot(&self) -> Arc<OnceLock<Arc<dyn Adapter>>> {
        self.adapter.clone()
    }

    fn adapter(&self) -> Result<&Arc<dyn Adapter>, Status> {
        self.adapter
            .get()
            .ok_or_else(|| Status::failed_precondition("Start has not been called yet"))
    }
}

#[tonic::async_trait]
impl BackendService for Gateway {
    async fn start(&self, req: Request<StartRequest>) -> Result<Response<BackendInfo>, Status> {
        let mut request = req.into_inner();
        if request.name.is_empty() {
            request.name = self.name.clone();
        }
        let _one_at_a_time = self.starting.lock().await;
        if let Some(adapter) = self.adapter.get() {
            if adapter.kind() != request.kind {
                return Err(Status::failed_precondition(format!(
                    "this gateway already runs backend kind {:?}, not {:?}",
                    adapter.kind(),
                    request.kind
                )));
            }
            adapter.update(&request);
            return Ok(Response::new(adapter.info()));
        }
        tracing::info!("starting backend {} (kind {})", request.name, request.kind);
        let ctx = Context {
            backend: request.name.clone(),
            events: self.events.clone(),
            request,
        };
        let adapter = adapters::start(ctx)
            .await
            .inspect_err(|s| tracing::error!("{}", s.message()))?;
        let info = adapter.info();
        // Cannot fail: Start calls are serialised and the slot was empty.
        let _ = self.adapter.set(adapter);
        Ok(Response::new(info))
    }

    type SessionStream = EventStream;

    async fn session(
        &self,
        req: Request<Streaming<SessionFrame>>,
    ) -> Result<Response<EventStream>, Status> {
        let adapter = self.adapter()?.clone();
        tracing::debug!("session opened ({} events queued)", self.events.queued());
        let events = self.events.subscribe()?;
        Ok(Response::new(session::run(
            adapter,
            events,
            req.into_inner(),
        )))
    }

    async fn build_identifier(
        &self,
        req: Request<BuildIdentifierRequest>,
    ) -> Result<Response<Identifier>, Status> {
        self.adapter()?
            .build_identifier(&req.into_inner().text)
            .map(Response::new)
    }

    async fn list_rooms(
        &self,
        _req: Request<ListRoomsRequest>,
    ) -> Result<Response<ListRoomsResponse>, Status> {
        let rooms = self.adapter()?.list_rooms().await?;
        Ok(Response::new(ListRoomsResponse { rooms }))
    }

    async fn join_room(&self, req: Request<JoinRoomRequest>) -> Result<Response<RoomInfo>, Status> {
        let req = req.into_inner();
        self.adapter()?
            .join_room(&req.room, &req.password)
            .await
            .map(Response::new)
    }

    async fn leave_room(
        &self,
        req: Request<LeaveRoomRequest>,
    ) -> Result<Response<LeaveRoomResponse>, Status> {
        let req = req.into_inner();
        self.adapter()?.leave_room(&req.room, &req.reason).await?;
        Ok(Response::new(LeaveRoomResponse {}))
    }

    async fn destroy_room(
        &self,
        req: Request<DestroyRoomRequest>,
    ) -> Result<Response<DestroyRoomResponse>, Status> {
        self.adapter()?.destroy_room(&req.into_inner().room).await?;
        Ok(Response::new(DestroyRoomResponse {}))
    }

    async fn get_room(&self, req: Request<GetRoomRequest>) -> Result<Response<RoomInfo>, Status> {
        self.adapter()?
            .get_room(&req.into_inner().room)
            .await
            .map(Response::new)
    }

    async fn set_room_topic(
        &self,
        req: Request<SetRoomTopicRequest>,
    ) -> Result<Response<RoomInfo>, Status> {
        let req = req.into_inner();
        self.adapter()?
            .set_room_topic(&req.room, &req.topic)
            .await
            .map(Response::new)
    }

    async fn invite_to_room(
        &self,
        req: Request<InviteToRoomRequest>,
    ) -> Result<Response<InviteToRoomResponse>, Status> {
        let req = req.into_inner();
        self.adapter()?
            .invite_to_room(&req.room, &req.people)
            .await?;
        Ok(Response::new(InviteToRoomResponse {}))
    }
}
