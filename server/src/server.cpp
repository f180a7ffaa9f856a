// chorus::Server: the public facade over ServerImpl.
#include <prometheus/registry.h>

#include <csignal>
#include <thread>

#include "admin.h"
#include "cluster.h"
#include "internal.h"

namespace chorus {

ServerImpl::ServerImpl(ServerOptions opts)
    : options(std::move(opts)), metrics_registry(std::make_shared<prometheus::Registry>()) {
  if (options.path.empty() || options.path[0] != '/') options.path = "/" + options.path;
  metrics_collectable = make_metrics_collectable(*this);
}

ServerImpl::~ServerImpl() {
  detach_metrics_collectable(*metrics_collectable);  // an embedder may keep it
  if (transport) transport->stop();
  if (cluster) cluster->stop();
  timers.stop();
  admin.reset();  // its login thread, before the namespaces its jobs touch
}

Server::Server(ServerOptions options) : impl_(std::make_unique<ServerImpl>(std::move(options))) {
  set_log_level(impl_->options.log_level);
  set_log_output(impl_->options.log_format, impl_->options.log_sink);
  impl_->of("/");
  if (impl_->options.admin.enabled) {
    impl_->admin = std::make_unique<AdminUi>(impl_.get());
    impl_->admin->install();
  }
}

Server::~Server() {
  stop();
}

Namespace& Server::of(const std::string& name) {
  return impl_->of(name);
}

Namespace& Server::of(NamespacePredicate predicate) {
  std::lock_guard<std::mutex> lock(impl_->ns_mu);
  auto ns = std::make_shared<NamespaceImpl>(impl_.get(), "/_" + std::to_string(impl_->parents.size()));
  ns->predicate = std::move(predicate);
  impl_->parents.push_back(std::make_unique<Namespace>(ns));
  return *impl_->parents.back();
}

Namespace& Server::of(const std::regex& pattern) {
  return of(
      NamespacePredicate([pattern](const std::string& name, const Value&) { return std::regex_match(name, pattern); }));
}

void Server::route(std::string method, std::string pattern, HttpHandler handler, std::size_t max_body) {
  RouteSpec r{std::move(method), split_path(pattern), std::move(handler), max_body};
  if (r.segments.empty() || r.segments.front()[0] == ':') {
    log(LogLevel::kError, "route " + pattern + " ignored: it must start with a literal segment (\"/api/...\")");
    return;
  }
  impl_->routes.push_back(std::move(r));
}

void Server::sse(std::string path, std::function<void(const std::shared_ptr<SseStream>&)> on_open) {
  impl_->sse_routes.emplace_back(std::move(path), std::move(on_open));
}

void Server::websocket(std::string path, WebSocketHandlers handlers) {
  impl_->ws_routes.emplace_back(std::move(path), std::move(handlers));
}

void Server::set_engine_handlers(EngineHandlers handlers) {
  impl_->engine_handlers = std::move(handlers);
  impl_->engine_mode = true;
}

void Server::allow_request(std::function<std::optional<std::string>(const Handshake&)> check) {
  impl_->allow_request = std::move(check);
}

Status check_options(const ServerOptions& options) {
  if (!options.metrics_path.empty()) {
    std::vector<std::string> segments = split_path(options.metrics_path);
    bool ok = options.metrics_path[0] == '/' && !segments.empty();
    for (const std::string& segment : segments) ok = ok && segment[0] != ':';
    if (!ok) {
      return make_error(ErrorCode::kProtocol, "metrics_path '" + options.metrics_path +
                                                  "' must be a path such as /metrics (literal segments), or empty "
                                                  "to serve no metrics");
    }
  }
  if (const AdminOptions& a = options.admin; a.enabled) {
    const std::string& h = a.password_hash;
    const bool bcrypt =
        h.size() == 60 && h[0] == '$' && h[1] == '2' && (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') && h[3] == '$';
    if (a.no_auth && (!a.username.empty() || !h.empty())) {
      return make_error(ErrorCode::kProtocol, "admin: no_auth with a username or password hash: choose one");
    }
    if (!a.no_auth && (a.username.empty() || !bcrypt)) {
      return make_error(ErrorCode::kProtocol,
                        "admin: the Admin UI needs a username and a bcrypt password hash ($2a$/$2b$/$2y$, 60 "
                        "characters, e.g. from `htpasswd -nbBC 10 USER PASSWORD`), or no_auth to open it to anyone");
    }
    if (a.namespace_name.size() < 2 || a.namespace_name[0] != '/') {
      return make_error(ErrorCode::kProtocol, "admin: namespace_name '" + a.namespace_name + "' must be /name");
    }
    if (a.stats_interval_ms < 100) {
      return make_error(ErrorCode::kProtocol, "admin: stats_interval_ms must be at least 100");
    }
  }
  if (options.cors_credentials) {
    for (const std::string& origin : options.cors_origins) {
      if (origin == "*" || origin == "null") {
        return make_error(ErrorCode::kProtocol,
                          "CORS origin '" + origin + "' with credentials would let any site act as the user: " +
                              "list the allowed origins (https://app.example.com,...) or turn credentials off");
      }
    }
  }
  return Ok{};
}

Status Server::start() {
  if (impl_->transport) return Ok{};
  if (Status s = check_options(impl_->options); !s) return s;
  if (!impl_->options.redis.url.empty() && !impl_->cluster) {
    auto cluster = std::make_unique<Cluster>(impl_.get(), impl_->options.redis);
    if (Status s = cluster->start(); !s) return s;
    std::lock_guard<std::mutex> lock(impl_->ns_mu);
    impl_->cluster = std::move(cluster);
    for (auto& [name, ns] : impl_->namespaces) impl_->cluster->add_namespace(ns->impl());
    impl_->cluster->connect();  // subscribed to every namespace from the first connection on
  }
  if (impl_->options.connection_state_recovery.enabled) impl_->sweep_recovery();
  if (!impl_->options.metrics_path.empty() && !impl_->metrics_route_added) {
    impl_->metrics_route_added = true;
    ServerImpl* server = impl_.get();
    route(
        "GET", impl_->options.metrics_path,
        [server](const HttpRequest&, HttpResponse& res) {
          res.content_type = kMetricsContentType;
          res.body = render_metrics(*server);
        },
        0);
  }
  auto transport = make_civet_transport(impl_.get());
  Status s = transport->start();
  if (!s) return s;
  impl_->transport = std::move(transport);
  if (impl_->admin) impl_->admin->start();
  return Ok{};
}

Status Server::run() {
  Status s = start();
  if (!s) return s;
  while (!impl_->stop_requested.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop();
  return Ok{};
}

void ServerImpl::sweep_recovery() {
  std::vector<std::shared_ptr<NamespaceImpl>> all;
  {
    std::lock_guard<std::mutex> lock(ns_mu);
    for (auto& [name, ns] : namespaces) all.push_back(ns->impl());
  }
  std::uint64_t now = now_ms();
  for (auto& ns : all) ns->prune_recovery(now);
  timers.schedule_in(std::chrono::seconds(10), [this] { sweep_recovery(); });
}

void Server::request_stop() {
  impl_->stop_requested.store(true);
}

void Server::stop() {
  if (impl_->transport) impl_->transport->stop();
  if (impl_->cluster) impl_->cluster->stop();
}

int Server::port() const {
  return impl_->transport ? impl_->transport->port() : 0;
}

const ServerOptions& Server::options() const {
  return impl_->options;
}

std::size_t Server::capacity() const {
  return impl_->transport ? impl_->transport->capacity() : 0;
}

std::size_t Server::io_threads() const {
  return impl_->transport ? impl_->transport->io_threads() : 0;
}

bool Server::cluster_connected() const {
  return impl_->cluster && impl_->cluster->connected();
}

std::string Server::metrics_text() const {
  return render_metrics(*impl_);
}

std::shared_ptr<prometheus::Registry> Server::metrics_registry() const {
  return impl_->metrics_registry;
}

std::shared_ptr<prometheus::Collectable> Server::metrics_collectable() const {
  return impl_->metrics_collectable;
}

std::size_t Server::connection_count() const {
  return impl_->transport ? impl_->transport->session_count() : 0;
}

namespace {
std::atomic<Server*> g_signal_server{nullptr};
extern "C" void on_stop_signal(int) {
  if (Server* s = g_signal_server.load()) s->request_stop();  // only sets an atomic flag
}
}  // namespace

void stop_on_signals(Server& server) {
  g_signal_server.store(&server);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client vanishing mid-write is an error code, not a kill
}

}  // namespace chorus
