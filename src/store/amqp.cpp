#include "store/amqp.hpp"

#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <cstring>

#include "store/failure.hpp"

namespace chat::store {

namespace {
amqp_bytes_t bytes(std::string_view s) {
    return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

timeval to_timeval(std::chrono::microseconds us) {
    if (us.count() < 0) us = std::chrono::microseconds(0);
    return timeval{static_cast<time_t>(us.count() / 1000000), static_cast<suseconds_t>(us.count() % 1000000)};
}
}  // namespace

core::error amqp_session::fail(const std::string& what) {
    close();
    return unavailable("amqp", queue_unavailable, what);
}

core::result<void> amqp_session::check_rpc(const char* what) {
    amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return {};
    std::string why = r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
                          ? amqp_error_string2(r.library_error)
                          : "server closed the channel or connection";
    return fail(std::string(what) + ": " + why);
}

void amqp_session::close() {
    if (conn_ == nullptr) return;
    // Best effort: the peer may already be gone.
    amqp_channel_close(conn_, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
    conn_ = nullptr;
}

core::result<void> amqp_session::open(bool confirm, int heartbeat_s) {
    // A cluster's brokers in turn, from the last one that worked: any node serves any queue.
    const std::vector<core::endpoint> single{{cfg_.host, cfg_.port}};
    const auto& brokers = cfg_.nodes.empty() ? single : cfg_.nodes;
    core::result<void> opened;
    for (std::size_t i = 0; i < brokers.size(); ++i) {
        auto at = (first_broker_ + i) % brokers.size();
        opened = open_on(brokers[at], confirm, heartbeat_s);
        if (opened) {
            first_broker_ = at;
            return opened;
        }
    }
    return opened;
}

core::result<void> amqp_session::open_on(const core::endpoint& broker, bool confirm, int heartbeat_s) {
    close();
    conn_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    if (socket == nullptr) return fail("cannot create socket");
    timeval tv{5, 0};
    if (amqp_socket_open_noblock(socket, broker.host.c_str(), broker.port, &tv) != AMQP_STATUS_OK)
        return fail("cannot connect to " + broker.host + ":" + std::to_string(broker.port));
    amqp_rpc_reply_t login = amqp_login(conn_, cfg_.vhost.c_str(), 0, 131072, heartbeat_s,
                                        AMQP_SASL_METHOD_PLAIN, cfg_.user.c_str(), cfg_.password.c_str());
    if (login.reply_type != AMQP_RESPONSE_NORMAL) return fail("login failed");
    amqp_channel_open(conn_, 1);
    if (auto ok = check_rpc("channel.open"); !ok) return ok;
    if (confirm) {
        amqp_confirm_select(conn_, 1);
        if (auto ok = check_rpc("confirm.select"); !ok) return ok;
        next_seq_ = 1;
        confirmed_up_to_ = 0;
        settled_.clear();
    }
    // Quorum queues are declared with their type; classic ones without arguments, as they always were
    // (re-declaring an existing queue with other arguments is refused by the broker). A quorum queue
    // counts redeliveries: past the limit (a default of 20 since RabbitMQ 4.0) the broker would drop
    // the message unless it has a dead-letter target, so the main queue names ours and sets the limit.
    const bool quorum = cfg_.queue_type == "quorum";
    amqp_table_entry_t entries[4];
    entries[0].key = amqp_cstring_bytes("x-queue-type");
    entries[0].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[0].value.value.bytes = amqp_cstring_bytes(cfg_.queue_type.c_str());
    entries[1].key = amqp_cstring_bytes("x-dead-letter-exchange");
    entries[1].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[1].value.value.bytes = amqp_cstring_bytes("");
    entries[2].key = amqp_cstring_bytes("x-dead-letter-routing-key");
    entries[2].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[2].value.value.bytes = amqp_cstring_bytes(cfg_.dead_letter_queue.c_str());
    entries[3].key = amqp_cstring_bytes("x-delivery-limit");
    entries[3].value.kind = AMQP_FIELD_KIND_I32;
    entries[3].value.value.i32 = 100;
    for (const auto* q : {&cfg_.queue, &cfg_.dead_letter_queue}) {
        amqp_table_t args = amqp_empty_table;
        if (quorum) args = amqp_table_t{q == &cfg_.queue ? 4 : 1, entries};
        amqp_queue_declare(conn_, 1, bytes(*q), 0, 1, 0, 0, args);
        if (auto ok = check_rpc("queue.declare"); !ok) return ok;
    }
    return {};
}

core::result<std::uint64_t> amqp_session::publish(const std::string& queue, std::string_view body,
                                                  const std::string& message_id,
                                                  const std::string& reason_header,
                                                  const char* content_type) {
    if (conn_ == nullptr) return unavailable("amqp", queue_unavailable, "not connected");
    amqp_basic_properties_t props;
    std::memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    props.content_type = amqp_cstring_bytes(content_type);
    props.delivery_mode = 2;  // persistent: survives a broker restart once confirmed
    props.message_id = bytes(message_id);
    amqp_table_entry_t entry;
    if (!reason_header.empty()) {
        entry.key = amqp_cstring_bytes("x-chat-dead-letter-reason");
        entry.value.kind = AMQP_FIELD_KIND_UTF8;
        entry.value.value.bytes = bytes(reason_header);
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
        props.headers.num_entries = 1;
        props.headers.entries = &entry;
    }
    int rc = amqp_basic_publish(conn_, 1, amqp_empty_bytes, bytes(queue), 0, 0, &props, bytes(body));
    if (rc != AMQP_STATUS_OK) return fail(std::string("publish: ") + amqp_error_string2(rc));
    return next_seq_++;
}

core::result<std::vector<std::uint64_t>> amqp_session::wait_confirms(
    std::uint64_t last, std::chrono::steady_clock::time_point deadline) {
    std::vector<std::uint64_t> nacked;
    while (confirmed_up_to_ < last) {
        if (conn_ == nullptr) return unavailable("amqp", queue_unavailable, "not connected");
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline -
                                                                          std::chrono::steady_clock::now());
        if (left.count() <= 0) return fail("timed out waiting for publisher confirms");
        timeval tv = to_timeval(left);
        amqp_frame_t frame;
        int rc = amqp_simple_wait_frame_noblock(conn_, &frame, &tv);
        if (rc == AMQP_STATUS_TIMEOUT) continue;
        if (rc != AMQP_STATUS_OK) return fail(std::string("waiting for confirms: ") + amqp_error_string2(rc));
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        switch (frame.payload.method.id) {
            case AMQP_BASIC_ACK_METHOD: {
                auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
                settle(ack->delivery_tag, ack->multiple != 0);
                break;
            }
            case AMQP_BASIC_NACK_METHOD: {
                auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
                std::uint64_t from = nack->multiple ? confirmed_up_to_ + 1 : nack->delivery_tag;
                for (auto t = from; t <= nack->delivery_tag; ++t)
                    if (!settled_.contains(t)) nacked.push_back(t);
                settle(nack->delivery_tag, nack->multiple != 0);
                break;
            }
            case AMQP_CHANNEL_CLOSE_METHOD:
            case AMQP_CONNECTION_CLOSE_METHOD:
                return fail("broker closed the channel");
            default:
                break;
        }
        amqp_maybe_release_buffers(conn_);
    }
    return nacked;
}

void amqp_session::settle(std::uint64_t tag, bool multiple) {
    // Confirms normally come in order, but a single ack may overtake another: remember it until the
    // range below it is settled too.
    if (multiple) {
        confirmed_up_to_ = std::max(confirmed_up_to_, tag);
    } else if (tag > confirmed_up_to_) {
        settled_.insert(tag);
    }
    while (settled_.contains(confirmed_up_to_ + 1)) settled_.erase(++confirmed_up_to_);
    std::erase_if(settled_, [this](std::uint64_t t) { return t <= confirmed_up_to_; });
}

core::result<void> amqp_session::consume(const std::string& queue, std::uint16_t prefetch) {
    if (conn_ == nullptr) return unavailable("amqp", queue_unavailable, "not connected");
    amqp_basic_qos(conn_, 1, 0, prefetch, 0);
    if (auto ok = check_rpc("basic.qos"); !ok) return ok;
    amqp_basic_consume(conn_, 1, bytes(queue), amqp_empty_bytes, 0, 0 /*manual ack*/, 0, amqp_empty_table);
    return check_rpc("basic.consume");
}

core::result<std::optional<delivery>> amqp_session::next(std::chrono::milliseconds timeout) {
    if (conn_ == nullptr) return unavailable("amqp", queue_unavailable, "not connected");
    amqp_maybe_release_buffers(conn_);
    amqp_envelope_t env;
    timeval tv = to_timeval(timeout);
    amqp_rpc_reply_t r = amqp_consume_message(conn_, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        delivery d{env.delivery_tag,
                   std::string(static_cast<char*>(env.message.body.bytes), env.message.body.len),
                   env.redelivered != 0, std::string()};
        if (env.message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
            d.message_id.assign(static_cast<char*>(env.message.properties.message_id.bytes),
                                env.message.properties.message_id.len);
        amqp_destroy_envelope(&env);
        return std::optional<delivery>{std::move(d)};
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
        return std::optional<delivery>{};
    return fail("consume: connection or channel closed");
}

core::result<void> amqp_session::ack(std::uint64_t tag, bool multiple) {
    if (conn_ == nullptr) return unavailable("amqp", queue_unavailable, "not connected");
    if (amqp_basic_ack(conn_, 1, tag, multiple ? 1 : 0) != AMQP_STATUS_OK) return fail("ack failed");
    return {};
}

core::result<std::vector<amqp_session::peeked>> amqp_session::peek(const std::string& queue,
                                                                   std::size_t max) {
    if (conn_ == nullptr) return unavailable("amqp", queue_unavailable, "not connected");
    std::vector<peeked> out;
    std::uint64_t last_tag = 0;
    while (out.size() < max) {
        amqp_rpc_reply_t r = amqp_basic_get(conn_, 1, bytes(queue), 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) return fail("basic.get failed");
        if (r.reply.id != AMQP_BASIC_GET_OK_METHOD) break;  // basic.get-empty
        last_tag = static_cast<amqp_basic_get_ok_t*>(r.reply.decoded)->delivery_tag;
        amqp_message_t msg;
        if (amqp_read_message(conn_, 1, &msg, 0).reply_type != AMQP_RESPONSE_NORMAL)
            return fail("reading a message");
        peeked p;
        p.body.assign(static_cast<char*>(msg.body.bytes), msg.body.len);
        const auto& props = msg.properties;
        if (props._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
            p.message_id.assign(static_cast<char*>(props.message_id.bytes), props.message_id.len);
        if (props._flags & AMQP_BASIC_HEADERS_FLAG)
            for (int i = 0; i < props.headers.num_entries; ++i) {
                const auto& e = props.headers.entries[i];
                std::string_view key(static_cast<char*>(e.key.bytes), e.key.len);
                if (key == "x-chat-dead-letter-reason" &&
                    (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES))
                    p.reason.assign(static_cast<char*>(e.value.value.bytes.bytes), e.value.value.bytes.len);
            }
        amqp_destroy_message(&msg);
        out.push_back(std::move(p));
    }
    if (last_tag != 0 && amqp_basic_nack(conn_, 1, last_tag, 1, 1) != AMQP_STATUS_OK)
        return fail("nack failed");
    return out;
}

core::result<std::uint32_t> amqp_session::queue_depth(const std::string& queue) {
    if (conn_ == nullptr) return unavailable("amqp", queue_unavailable, "not connected");
    auto* ok = amqp_queue_declare(conn_, 1, bytes(queue), 1, 1, 0, 0, amqp_empty_table);
    if (auto rpc = check_rpc("queue.declare passive"); !rpc) return rpc.error();
    return ok->message_count;
}

}  // namespace chat::store
