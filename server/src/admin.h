// The server side of the Socket.IO Admin UI (@socket.io/admin-ui 0.5): an "/admin" namespace
// whose middleware checks the UI's login (bcrypt through libxcrypt's crypt_r, or a session id
// of an earlier login), and which receives the server's sockets, rooms, events and stats, and
// takes the UI's commands (emit, join, leave, _disconnect).
//
// Everything is emitted with the admin namespace's emit, i.e. through the adapter: with the
// Redis adapter every UI sees every node. The hooks below are called by the Socket.IO layer
// only when ServerImpl::admin_watched() (one relaxed load otherwise); they encode and queue,
// and never wait on the network.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "internal.h"

namespace chorus {

class AdminUi {
 public:
  explicit AdminUi(ServerImpl* server);
  ~AdminUi();  // joins the login thread
  AdminUi(const AdminUi&) = delete;
  AdminUi& operator=(const AdminUi&) = delete;

  // The namespace, its middleware and connection handler (Server's constructor).
  void install();
  // The stats timer (Server::start).
  void start();

  // Hooks (Socket.IO layer), for sockets of any namespace.
  void socket_connected(Socket& socket);
  void socket_disconnected(const std::string& nsp, const std::string& id, const std::string& reason);
  void room_changed(const std::string& nsp, const std::string& room, const std::string& id, bool joined);
  // `args_with_event`: the event name first, as the UI shows it.
  void event(bool received, const std::string& nsp, const std::string& id, const Value& args_with_event);
  void transport_changed(const std::string& nsp, const std::string& id, const char* transport);
  void data_changed(Socket& socket);

  // socket.data as a fetch answer carries it to other nodes: with "_admin" {clientId,
  // transport}, which the Admin UI on any node of a cluster reads (as Node's instrument does).
  static Value wire_data(Socket& socket);

  // The features the UI is told about (readonly drops the commands).
  Value config() const;
  // The UI's shape of a socket (SerializedSocket).
  static Value serialize(const RemoteSocket& socket, const std::string& nsp);
  // The UI's clientId (the first 12 characters of the engine id) and transport of a local socket.
  static void client_fields(Socket& socket, Value& client_id, Value& transport);
  // Verifies `password` against a bcrypt hash with crypt_r (false for any other hash).
  static bool bcrypt_matches(const std::string& password, const std::string& hash);

 private:
  void on_admin_connection(Socket& socket);
  void send_all_sockets(const std::shared_ptr<Socket>& socket);
  void emit_stats();
  void schedule_stats();
  void emit(std::string_view event, Args args);
  bool has_session(const std::string& id);
  std::string new_session();
  void login_thread();
  void authenticate(Socket& socket, Next next);
  void update_watching();

  ServerImpl* server_;
  const AdminOptions& options_;
  std::shared_ptr<NamespaceImpl> ns_;
  std::string server_id_;
  std::string hostname_;
  std::uint64_t started_ms_ = 0;

  std::mutex mu_;
  // Sessions by id: their expiry (steady ms); `session_order_` oldest first.
  std::unordered_map<std::string, std::uint64_t> sessions_;
  std::deque<std::string> session_order_;
  // Session ids made by the middleware, emitted once the socket has its CONNECT reply.
  std::unordered_map<std::string, std::string> pending_session_;
  std::size_t local_admins_ = 0;
  // The stats deltas: the totals and open sessions at the last server_stats.
  Metrics::Totals last_totals_{};
  std::uint64_t last_open_ = 0;

  // Password checks waiting for the login thread.
  std::mutex login_mu_;
  std::condition_variable login_cv_;
  std::deque<std::function<void()>> logins_;
  bool stopping_ = false;
  std::thread login_thread_;
};

}  // namespace chorus
