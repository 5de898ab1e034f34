/**
 * The etcd v3 Auth service and its messages (`etcdserverpb.Auth`, `authpb`), our own definitions written from
 * etcd 3.4's public API reference (rpc.proto, auth.proto): names and field numbers are the wire contract.
 * Kept apart from proto.ts so the auth surface reads in one place; etcdRoot() parses it into the same root.
 */

/** authpb: a role's key-range permission and the user-add options. */
export const AUTHPB_PROTO = `
syntax = "proto3";
package authpb;

message UserAddOptions {
  bool no_password = 1;
}

message Permission {
  enum Type {
    READ = 0;
    WRITE = 1;
    READWRITE = 2;
  }
  Type permType = 1;
  bytes key = 2;
  bytes range_end = 3;
}
`;

/** etcdserverpb.Auth and its request/response messages (ResponseHeader comes from proto.ts). */
export const AUTH_RPC_PROTO = `
syntax = "proto3";
package etcdserverpb;

service Auth {
  rpc AuthEnable(AuthEnableRequest) returns (AuthEnableResponse);
  rpc AuthDisable(AuthDisableRequest) returns (AuthDisableResponse);
  rpc Authenticate(AuthenticateRequest) returns (AuthenticateResponse);
  rpc UserAdd(AuthUserAddRequest) returns (AuthUserAddResponse);
  rpc UserGet(AuthUserGetRequest) returns (AuthUserGetResponse);
  rpc UserList(AuthUserListRequest) returns (AuthUserListResponse);
  rpc UserDelete(AuthUserDeleteRequest) returns (AuthUserDeleteResponse);
  rpc UserChangePassword(AuthUserChangePasswordRequest) returns (AuthUserChangePasswordResponse);
  rpc UserGrantRole(AuthUserGrantRoleRequest) returns (AuthUserGrantRoleResponse);
  rpc UserRevokeRole(AuthUserRevokeRoleRequest) returns (AuthUserRevokeRoleResponse);
  rpc RoleAdd(AuthRoleAddRequest) returns (AuthRoleAddResponse);
  rpc RoleGet(AuthRoleGetRequest) returns (AuthRoleGetResponse);
  rpc RoleList(AuthRoleListRequest) returns (AuthRoleListResponse);
  rpc RoleDelete(AuthRoleDeleteRequest) returns (AuthRoleDeleteResponse);
  rpc RoleGrantPermission(AuthRoleGrantPermissionRequest) returns (AuthRoleGrantPermissionResponse);
  rpc RoleRevokePermission(AuthRoleRevokePermissionRequest) returns (AuthRoleRevokePermissionResponse);
}

message AuthEnableRequest {}
message AuthDisableRequest {}

message AuthenticateRequest {
  string name = 1;
  string password = 2;
}

message AuthUserAddRequest {
  string name = 1;
  string password = 2;
  authpb.UserAddOptions options = 3;
}

message AuthUserGetRequest { string name = 1; }
message AuthUserDeleteRequest { string name = 1; }

message AuthUserChangePasswordRequest {
  string name = 1;
  string password = 2;
}

message AuthUserGrantRoleRequest {
  string user = 1;
  string role = 2;
}

message AuthUserRevokeRoleRequest {
  string name = 1;
  string role = 2;
}

message AuthRoleAddRequest { string name = 1; }
message AuthRoleGetRequest { string role = 1; }
message AuthUserListRequest {}
message AuthRoleListRequest {}
message AuthRoleDeleteRequest { string role = 1; }

message AuthRoleGrantPermissionRequest {
  string name = 1;
  authpb.Permission perm = 2;
}

message AuthRoleRevokePermissionRequest {
  string role = 1;
  bytes key = 2;
  bytes range_end = 3;
}

message AuthEnableResponse { ResponseHeader header = 1; }
message AuthDisableResponse { ResponseHeader header = 1; }

message AuthenticateResponse {
  ResponseHeader header = 1;
  string token = 2;
}

message AuthUserAddResponse { ResponseHeader header = 1; }

message AuthUserGetResponse {
  ResponseHeader header = 1;
  repeated string roles = 2;
}

message AuthUserDeleteResponse { ResponseHeader header = 1; }
message AuthUserChangePasswordResponse { ResponseHeader header = 1; }
message AuthUserGrantRoleResponse { ResponseHeader header = 1; }
message AuthUserRevokeRoleResponse { ResponseHeader header = 1; }
message AuthRoleAddResponse { ResponseHeader header = 1; }

message AuthRoleGetResponse {
  ResponseHeader header = 1;
  repeated authpb.Permission perm = 2;
}

message AuthRoleListResponse {
  ResponseHeader header = 1;
  repeated string roles = 2;
}

message AuthUserListResponse {
  ResponseHeader header = 1;
  repeated string users = 2;
}

message AuthRoleDeleteResponse { ResponseHeader header = 1; }
message AuthRoleGrantPermissionResponse { ResponseHeader header = 1; }
message AuthRoleRevokePermissionResponse { ResponseHeader header = 1; }
`;
