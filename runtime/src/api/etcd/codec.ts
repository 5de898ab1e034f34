/**
 * Message conversion between the wire forms and the store's types. The store wants int64 as safe
 * integers and bytes as Buffers; gRPC (proto-loader, longs as String) hands int64 as decimal strings, and the
 * JSON gateway speaks grpc-gateway's JSON: int64 as strings, bytes as base64, enums by name, default values
 * omitted, field names as in the .proto (lowerCamelCase accepted on input, as grpc-gateway does).
 * Every request is validated here, where it is decoded: an int64 beyond ±2^53 is INVALID_ARGUMENT.
 */
import * as protobuf from 'protobufjs';
import { etcdRoot } from './proto';
import { GrpcCode, MvccError } from '../../mvcc';

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

type Obj = Record<string, unknown>;

/** One parsed copy of the definitions with the conversions over them. */
export class EtcdCodec {
  readonly root: protobuf.Root = etcdRoot();
  private readonly aliases = new Map<protobuf.Type, Map<string, string>>();

  type(name: string): protobuf.Type {
    return this.root.lookupType(name.includes('.') ? name : `etcdserverpb.${name}`);
  }

  /**
   * A request as proto-loader decoded it (int64 strings, null for unset messages) -> the store's form:
   * int64 as numbers, unset messages absent. Mutates and returns `obj`.
   */
  fromGrpc<T>(typeName: string, obj: unknown): T {
    return normalize(this.type(typeName), obj as Obj, '') as T;
  }

  /**
   * A response decoded by a gRPC client (a follower's forwarded write) -> the store's form, as if this member had
   * served it: int64 as numbers, except the header's member ids and term, which the store's form keeps as strings.
   */
  responseFromGrpc<T>(typeName: string, obj: unknown): T {
    return normalize(this.type(typeName), obj as Obj, '', keepHeaderIds) as T;
  }

  /** A gateway JSON body -> the store's form. Throws INVALID_ARGUMENT for a body that does not fit the message. */
  fromJson<T>(typeName: string, json: unknown): T {
    const type = this.type(typeName);
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new MvccError(GrpcCode.INVALID_ARGUMENT, `etcdserver: invalid request: the body must be a JSON object (${type.name})`);
    }
    let msg: protobuf.Message;
    try {
      msg = type.fromObject(this.renameCamel(type, json as Obj));
    } catch (e) {
      throw new MvccError(GrpcCode.INVALID_ARGUMENT, `etcdserver: invalid request: ${(e as Error).message}`);
    }
    const obj = type.toObject(msg, { longs: String, enums: Number, bytes: Buffer, defaults: true, oneofs: false });
    return normalize(type, obj, '') as T;
  }

  /** A response in the store's form -> grpc-gateway JSON (defaults omitted, int64 strings, base64 bytes, enum names). */
  toJson(typeName: string, obj: unknown): Obj {
    const type = this.type(typeName);
    return omitDefaults(type, type.toObject(type.fromObject(obj as Obj), { longs: String, enums: String, bytes: String, defaults: false }));
  }

  /** Accepts lowerCamelCase names (grpc-gateway's JSON names) for fields whose .proto name differs. */
  private renameCamel(type: protobuf.Type, obj: Obj): Obj {
    const names = this.camelNames(type);
    const out: Obj = {};
    for (const [k, v] of Object.entries(obj)) {
      const name = type.fields[k] ? k : names.get(k) ?? k;
      const field = type.fields[name];
      const sub = field?.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
      if (sub && Array.isArray(v)) out[name] = v.map((x) => (isObj(x) ? this.renameCamel(sub, x) : x));
      else if (sub && isObj(v)) out[name] = this.renameCamel(sub, v);
      else out[name] = v;
    }
    return out;
  }

  private camelNames(type: protobuf.Type): Map<string, string> {
    let m = this.aliases.get(type);
    if (!m) {
      m = new Map(type.fieldsArray.map((f) => [f.name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), f.name]));
      this.aliases.set(type, m);
    }
    return m;
  }
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** grpc-gateway (EmitDefaults off) leaves out proto3 zero values: 0, "0", false, "", [], an enum's first value. */
function omitDefaults(type: protobuf.Type, obj: Obj): Obj {
  for (const field of type.fieldsArray) {
    const v = obj[field.name];
    if (v === undefined) continue;
    const sub = field.resolvedType;
    if (sub instanceof protobuf.Type) {
      if (Array.isArray(v)) v.forEach((x) => omitDefaults(sub, x as Obj));
      else if (isObj(v)) omitDefaults(sub, v);
    }
    if (field.partOf) continue; // a set oneof member is sent even when zero
    const firstEnum = sub instanceof protobuf.Enum ? Object.keys(sub.values)[0] : undefined;
    if (v === 0 || v === '0' || v === false || v === '' || (Array.isArray(v) && v.length === 0) || (firstEnum !== undefined && v === firstEnum)) {
      delete obj[field.name];
    }
  }
  return obj;
}

/** The ResponseHeader fields the store's form keeps as decimal strings (uint64 ids exceed 2^53). */
function keepHeaderIds(type: protobuf.Type, field: protobuf.Field): boolean {
  return type.name === 'ResponseHeader' && field.name !== 'revision';
}

type KeepString = (type: protobuf.Type, field: protobuf.Field) => boolean;

function normalize(type: protobuf.Type, obj: Obj, path: string, keepString: KeepString = () => false): Obj {
  if (!isObj(obj)) throw new MvccError(GrpcCode.INVALID_ARGUMENT, `etcdserver: invalid request: ${path || type.name} must be a message`);
  for (const field of type.fieldsArray) {
    const v = obj[field.name];
    if (v === null || v === undefined) { delete obj[field.name]; continue; }
    const where = path ? `${path}.${field.name}` : field.name;
    if (LONG_TYPES.has(field.type)) {
      if (keepString(type, field)) continue;
      obj[field.name] = field.repeated ? (v as unknown[]).map((x) => toSafeInt(x, where)) : toSafeInt(v, where);
    } else if (field.resolvedType instanceof protobuf.Type) {
      const sub = field.resolvedType;
      obj[field.name] = field.repeated ? (v as Obj[]).map((x, i) => normalize(sub, x, `${where}[${i}]`, keepString)) : normalize(sub, v as Obj, where, keepString);
    }
  }
  return obj;
}

function toSafeInt(v: unknown, field: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw new MvccError(GrpcCode.INVALID_ARGUMENT, `etcdserver: invalid request: ${field} (${String(v)}) must be an integer within ±2^53`);
  }
  return n;
}
