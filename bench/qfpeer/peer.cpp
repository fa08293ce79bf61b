// The peer of the catch-up bench: a QuickFIX C++ acceptor that, when its one session logs on,
// sends every ExecutionReport of an input file through Session::sendToTarget, so each is
// sequenced, kept in the acceptor's FileStore and written as QuickFIX writes any message.
//
// Usage: qfpeer <settings file> <messages file>
// Every session of the settings file gets every message, from a thread of its own.
// The messages file holds complete FIX messages, each as "<length>\n<bytes>", parsed with the
// session's dictionaries (groups included); the session sets the header fields it owns.
// Prints "loaded <n>" once listening and "sent <n>" when every message was handed to the session.
#include <quickfix/Application.h>
#include <quickfix/FileStore.h>
#include <quickfix/NullStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketAcceptor.h>
#include <quickfix/DataDictionary.h>
#include <quickfix/Log.h>

#include <map>
#include <mutex>
#include <set>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

std::vector<std::string> read_messages(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::string> out;
  std::string length;
  while (std::getline(in, length)) {
    std::string data(std::stoul(length), '\0');
    in.read(&data[0], static_cast<std::streamsize>(data.size()));
    out.push_back(std::move(data));
  }
  return out;
}

class Peer : public FIX::Application {
 public:
  // One copy of the messages per session, made before any logon (sendToTarget rewrites the
  // header of the message it is given).
  Peer(const std::vector<FIX::Message>& messages, const std::set<FIX::SessionID>& sessions) {
    for (const auto& id : sessions) messages_[id.toString()] = messages;
  }
  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID& id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_.insert(id.toString()).second) return;  // once per session
    auto& mine = messages_[id.toString()];
    senders_.emplace_back([&mine, id] {
      for (auto& message : mine) FIX::Session::sendToTarget(message, id);
      std::cout << "sent " << mine.size() << " to " << id.toString() << std::endl;
    });
  }
  void onLogout(const FIX::SessionID&) override {}
  void toAdmin(FIX::Message&, const FIX::SessionID&) override {}
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message&, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
             FIX::RejectLogon) override {}
  void fromApp(const FIX::Message&, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
             FIX::UnsupportedMessageType) override {}
  void join() {
    for (auto& sender : senders_)
      if (sender.joinable()) sender.join();
  }

 private:
  std::map<std::string, std::vector<FIX::Message>> messages_;
  std::mutex mutex_;
  std::set<std::string> started_;
  std::vector<std::thread> senders_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: qfpeer <settings> <messages>" << std::endl;
    return 2;
  }
  try {
    FIX::SessionSettings settings(argv[1]);
    const FIX::Dictionary& defaults = settings.get();
    FIX::DataDictionary transport(defaults.getString("TransportDataDictionary"));
    FIX::DataDictionary app(defaults.getString("AppDataDictionary"));
    std::vector<FIX::Message> messages;
    for (const auto& raw : read_messages(argv[2]))
      messages.emplace_back(raw, transport, app, false);
    Peer peer(messages, settings.getSessions());
    FIX::FileStoreFactory store(settings);
    FIX::SocketAcceptor acceptor(peer, store, settings);
    acceptor.start();
    std::cout << "loaded " << messages.size() << std::endl;  // and listening
    std::string line;
    std::getline(std::cin, line);  // runs until stdin closes
    acceptor.stop();
    peer.join();
  } catch (const std::exception& e) {
    std::cerr << "qfpeer: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
