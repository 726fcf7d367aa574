"""A client of the local site's gateway from the host, as an external system calls it: TLS only, trusting
the cluster's own CA (edgeai.gateway_tls), V2 inference over REST and over gRPC.

The gRPC messages are encoded here by hand (protobuf's wire format, the fields of the V2 protocol's
ModelInfer/ModelReady messages): no generated V2 stubs exist in this repository's environment, and grpcio
only needs bytes.
"""

from __future__ import annotations

import http.client
import json
import ssl
import struct
from pathlib import Path
from typing import Any

import grpc

from edgeai import gateway_tls
from tests.e2e.kindsite import GATEWAY, GATEWAY_GRPC, HOST, KindSite

SERVICE = "/inference.GRPCInferenceService"


def ca_file(site: KindSite) -> Path:
    return gateway_tls.ca_file(site.info.dir)


def tls_context(site: KindSite) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file(site)))


def connect(site: KindSite, timeout: float = 30) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection(HOST, GATEWAY, timeout=timeout, context=tls_context(site))


def rest(site: KindSite, path: str, body: Any = None, key: str | None = None,
         conn: http.client.HTTPSConnection | None = None) -> tuple[int, Any]:
    """(status, JSON or text) of a REST call over TLS (GET without a body); `conn` reuses one connection."""
    own = conn is None
    conn = conn or connect(site)
    try:
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
        conn.request("GET" if body is None else "POST", path,
                     body=None if body is None else json.dumps(body).encode(), headers=headers)
        resp = conn.getresponse()
        raw = resp.read().decode(errors="replace")
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw
    finally:
        if own:
            conn.close()


def infer_body(row: list[float]) -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": row}]}


# --- protobuf wire format, just what the V2 messages below need ------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:     # wire type 2: length-delimited
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of a message: varint ints, bytes for length-delimited, raw fixed."""
    out, i = [], 0
    while i < len(data):
        key, i = _read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire == 2:
            size, i = _read_varint(data, i)
            value, i = data[i:i + size], i + size
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.append((number, wire, value))
    return out


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, i


def model_infer_request(model: str, rows: list[list[float]]) -> bytes:
    """ModelInferRequest{model_name=1, inputs=5: InferInputTensor{name=1, datatype=2, shape=3 (packed int64),
    contents=5: InferTensorContents{fp64_contents=7 (packed double)}}}."""
    values = [v for row in rows for v in row]
    tensor = (_field(1, b"input-0") + _field(2, b"FP64")
              + _field(3, b"".join(_varint(n) for n in (len(rows), len(rows[0]))))
              + _field(5, _field(7, struct.pack(f"<{len(values)}d", *values))))
    return _field(1, model.encode()) + _field(5, tensor)


def model_infer_outputs(reply: bytes) -> dict[str, Any]:
    """model_name, model_version and the first output's values (contents or raw_output_contents=6)."""
    fields = _fields(reply)
    out: dict[str, Any] = {"model": "", "version": "", "data": []}
    datatype = "FP64"
    for number, _, value in fields:
        if number == 1:
            out["model"] = value.decode()
        elif number == 2:
            out["version"] = value.decode()
        elif number == 5 and not out["data"]:
            for n, _, v in _fields(value):
                if n == 2:
                    datatype = v.decode()
                elif n == 5:
                    out["data"] = _contents(v)
    raw = [value for number, _, value in fields if number == 6]
    if not out["data"] and raw:
        fmt = {"FP64": "d", "FP32": "f", "INT64": "q"}[datatype]
        out["data"] = list(struct.unpack(f"<{len(raw[0]) // struct.calcsize(fmt)}{fmt}", raw[0]))
    return out


def _contents(data: bytes) -> list[float]:
    for number, _, value in _fields(data):
        if number == 7:     # fp64_contents, packed
            return list(struct.unpack(f"<{len(value) // 8}d", value))
        if number == 3:     # int64_contents, packed
            ints, i = [], 0
            while i < len(value):
                n, i = _read_varint(value, i)
                ints.append(n)
            return ints
    return []


def grpc_infer(site: KindSite, model: str, key: str | None, rows: list[list[float]],
               timeout: float = 30) -> tuple[grpc.StatusCode, dict[str, Any] | str]:
    """ModelInfer over TLS on the gateway's gRPC node port, routed by x-model-name."""
    credentials = grpc.ssl_channel_credentials(ca_file(site).read_bytes())
    metadata = [("x-model-name", model)] + ([("authorization", f"Bearer {key}")] if key else [])
    with grpc.secure_channel(f"{HOST}:{GATEWAY_GRPC}", credentials) as channel:
        call = channel.unary_unary(f"{SERVICE}/ModelInfer", request_serializer=None, response_deserializer=None)
        try:
            reply = call(model_infer_request(model, rows), metadata=metadata, timeout=timeout)
        except grpc.RpcError as err:
            return err.code(), err.details() or ""
    return grpc.StatusCode.OK, model_infer_outputs(reply)
