// engineio::Outbox (outbox.h).
#include "chorus/engineio/outbox.h"

#include "chorus/base64.h"
#include "chorus/engineio/packet.h"

namespace chorus::engineio {

FramePtr OutFrame::text(std::string data, bool is_volatile) {
  auto f = std::make_shared<OutFrame>();
  f->bytes = data.size();
  f->parts.push_back(Part{false, std::move(data)});
  f->is_volatile = is_volatile;
  return f;
}

void append_sse_event(std::string& out, bool binary, std::string_view data) {
  std::string text;
  std::string_view packet = data;
  if (binary) {
    text.push_back('b');
    base64::encode(data, text);
    packet = text;
  }
  if (packet.find('\r') != std::string_view::npos) {
    out += "event: b64\ndata: ";
    base64::encode(packet, out);
    out += "\n\n";
    return;
  }
  std::size_t start = 0;
  while (true) {
    std::size_t nl = packet.find('\n', start);
    out += "data: ";
    out.append(packet.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    out.push_back('\n');
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out.push_back('\n');
}

Outbox::Push Outbox::push(FramePtr frame, bool ready) {
  if (frame->is_volatile && (!queue_.empty() || !ready)) return Push::kDropped;
  if (bytes_ + frame->bytes > max_bytes_ && !queue_.empty()) {
    // A reader that stalled: its volatile frames go first.
    queue_.remove_if([this](const FramePtr& f) {
      if (!f->is_volatile) return false;
      bytes_ -= f->bytes;
      return true;
    });
    if (bytes_ + frame->bytes > max_bytes_) return Push::kOverflow;
  }
  bytes_ += frame->bytes;
  queue_.push_back(std::move(frame));
  return Push::kQueued;
}

void Outbox::push_control(FramePtr frame) {
  bytes_ += frame->bytes;
  queue_.push_back(std::move(frame));
}

FramePtr Outbox::pop() {
  FramePtr f = std::move(queue_.front());
  queue_.pop_front();
  bytes_ -= f->bytes;
  return f;
}

void Outbox::clear() {
  queue_.clear();
  bytes_ = 0;
}

std::string Outbox::take_payload(bool closed) {
  std::string body;
  bool first = true;
  auto add = [&](bool binary, const std::string& data) {
    if (!first) body.push_back(kRecordSeparator);
    first = false;
    if (binary) {
      body.push_back('b');
      base64::encode(data, body);
    } else {
      body += data;
    }
  };
  while (!queue_.empty()) {
    FramePtr f = pop();
    for (const OutFrame::Part& part : f->parts) add(part.binary, part.data);
  }
  if (closed) {
    add(false, "1");  // CLOSE: the client stops polling
  } else if (first) {
    add(false, "6");  // NOOP
  }
  return body;
}

void Outbox::take_sse(std::string& out, std::size_t max_out) {
  while (!queue_.empty() && out.size() < max_out) {
    FramePtr f = pop();
    for (const OutFrame::Part& part : f->parts) append_sse_event(out, part.binary, part.data);
  }
}

}  // namespace chorus::engineio
