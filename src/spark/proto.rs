//! The few Spark Connect messages `midnet` sends and reads, written by hand with prost's derive
//! from Spark 4.0.1's published definitions (`spark/connect/base.proto` and `relations.proto`,
//! Apache-2.0, inside `spark-connect_2.13-4.0.1.jar`); field numbers and types are theirs. A
//! message keeps only the fields `midnet` uses: protobuf readers skip the fields they do not know,
//! so the server's other response fields (metrics, progress, …) pass by unread. Generating the whole
//! protocol (≈ 9,000 lines of messages for plans `midnet` never builds) would cost every build of
//! the shared target directory for nothing.

/// `spark.connect.UserContext`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UserContext {
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(string, tag = "2")]
    pub user_name: String,
}

/// `spark.connect.SQL`: a SQL statement (without arguments: every value is a quoted literal).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sql {
    #[prost(string, tag = "1")]
    pub query: String,
}

/// `spark.connect.Relation`, with its one variant `sql` (field 10 of the `rel_type` oneof).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Relation {
    #[prost(message, optional, tag = "10")]
    pub sql: Option<Sql>,
}

/// `spark.connect.Plan`, with its variant `root` (field 1 of the `op_type` oneof).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Plan {
    #[prost(message, optional, tag = "1")]
    pub root: Option<Relation>,
}

/// `spark.connect.ExecutePlanRequest`; without request options the execution is not reattachable,
/// and the server releases it when the stream ends.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecutePlanRequest {
    #[prost(string, tag = "1")]
    pub session_id: String,
    #[prost(message, optional, tag = "2")]
    pub user_context: Option<UserContext>,
    #[prost(message, optional, tag = "3")]
    pub plan: Option<Plan>,
    #[prost(string, optional, tag = "4")]
    pub client_type: Option<String>,
}

/// `spark.connect.ExecutePlanResponse.ArrowBatch`: an Arrow IPC stream (schema, then batches).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ArrowBatch {
    #[prost(int64, tag = "1")]
    pub row_count: i64,
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
}

/// `spark.connect.ExecutePlanResponse`, with its variant `arrow_batch` (field 2 of the
/// `response_type` oneof).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecutePlanResponse {
    #[prost(message, optional, tag = "2")]
    pub arrow_batch: Option<ArrowBatch>,
}

/// `spark.connect.ReleaseSessionRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReleaseSessionRequest {
    #[prost(string, tag = "1")]
    pub session_id: String,
    #[prost(message, optional, tag = "2")]
    pub user_context: Option<UserContext>,
    #[prost(string, optional, tag = "3")]
    pub client_type: Option<String>,
}

/// `spark.connect.ReleaseSessionResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReleaseSessionResponse {
    #[prost(string, tag = "1")]
    pub session_id: String,
}
