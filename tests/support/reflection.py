"""A gRPC client of nomad-lite that knows nothing of proto/nomad_lite.proto (Debian's
python3-grpcio and python3-protobuf only): health checks and server reflection in messages
encoded by hand, and services called with message classes built from reflected descriptors.
Channels and tokens come from a LocalCluster (channel(i), metadata(role))."""

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
HEALTH_WATCH = "/grpc.health.v1.Health/Watch"
SERVING, NOT_SERVING = 1, 2
SCHEDULER = "nomad_lite.SchedulerService"


# --- protobuf wire format, by hand (for the reflection and health messages) -----------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_bytes(number, data):
    data = data.encode() if isinstance(data, str) else data
    return varint(number << 3 | 2) + varint(len(data)) + data


def parse_fields(data):
    """[(field number, value)]: ints for varints, bytes for length-delimited fields."""
    out, i = [], 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(data, i)
        elif wire == 2:
            size, i = read_varint(data, i)
            value, i = data[i:i + size], i + size
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.append((number, value))
    return out


def read_varint(data, i):
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i
# --- health ---------------------------------------------------------------------------------

def health_status(cluster, i, service="", timeout=2):
    """The status Check answers (1 SERVING, 2 NOT_SERVING), or the gRPC error code."""
    call = cluster.channel(i).unary_unary(HEALTH_CHECK)
    try:
        answer = call(field_bytes(1, service), timeout=timeout, wait_for_ready=True)
    except grpc.RpcError as e:
        return e.code()
    return dict(parse_fields(answer)).get(1, 0)


# --- reflection -----------------------------------------------------------------------------

def reflect(cluster, i, requests, metadata=()):
    """Sends the ServerReflectionRequests (bytes) on one stream; returns the responses parsed
    into field lists."""
    call = cluster.channel(i).stream_stream(REFLECTION)
    answers = call(iter(requests), timeout=10, metadata=list(metadata), wait_for_ready=True)
    return [parse_fields(a) for a in answers]


def list_services(cluster, i):
    (answer,) = reflect(cluster, i, [field_bytes(7, "")])
    fields = dict(answer)
    if 7 in fields:
        raise RuntimeError(f"reflection error: {parse_fields(fields[7])}")
    return sorted(dict(parse_fields(svc)).get(1, b"").decode()
                  for number, svc_list in answer if number == 6
                  for n, svc in parse_fields(svc_list) if n == 1)


def fetch_files(cluster, i, symbol):
    """Every FileDescriptorProto the symbol needs, its dependencies fetched by file name."""
    files = {}

    def take(answer):
        for number, value in answer:
            if number == 7:
                raise RuntimeError(f"reflection error: {parse_fields(value)}")
            if number == 4:
                for n, blob in parse_fields(value):
                    if n == 1:
                        fd = descriptor_pb2.FileDescriptorProto.FromString(blob)
                        files[fd.name] = fd

    for answer in reflect(cluster, i, [field_bytes(4, symbol)]):
        take(answer)
    missing = [d for fd in list(files.values()) for d in fd.dependency if d not in files]
    while missing:
        for answer in reflect(cluster, i, [field_bytes(3, name) for name in missing]):
            take(answer)
        still = [d for fd in list(files.values()) for d in fd.dependency if d not in files]
        if set(still) == set(missing):
            raise RuntimeError(f"reflection does not give {still}")
        missing = still
    return files


def build_pool(files):
    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(name):
        if name in added:
            return
        for dep in files[name].dependency:
            add(dep)
        pool.Add(files[name])
        added.add(name)

    for name in files:
        add(name)
    return pool


def message_class(pool, full_name):
    desc = pool.FindMessageTypeByName(full_name)
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


class ReflectedService:
    """A service whose methods are called with message classes built from reflection alone."""

    def __init__(self, cluster, i, service):
        self.cluster, self.node = cluster, i
        self.pool = build_pool(fetch_files(cluster, i, service))
        self.desc = self.pool.FindServiceByName(service)

    def method_names(self):
        return sorted(m.name for m in self.desc.methods)

    def call(self, method, role, **fields):
        m = self.desc.methods_by_name[method]
        request_cls = message_class(self.pool, m.input_type.full_name)
        response_cls = message_class(self.pool, m.output_type.full_name)
        handle = self.cluster.channel(self.node).unary_unary(
            f"/{self.desc.full_name}/{method}",
            request_serializer=lambda msg: msg.SerializeToString(),
            response_deserializer=response_cls.FromString)
        return handle(request_cls(**fields), timeout=10, metadata=self.cluster.metadata(role),
                      wait_for_ready=True)

