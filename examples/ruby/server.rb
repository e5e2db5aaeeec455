# The seed's Ruby app: WEBrick answers "Hello, world!" on $PORT.
require "webrick"

server = WEBrick::HTTPServer.new(BindAddress: "0.0.0.0", Port: Integer(ENV.fetch("PORT", "5000")))
server.mount_proc("/") do |_request, response|
  response["Content-Type"] = "text/plain"
  response.body = "Hello, world!\n"
end
trap("TERM") { server.shutdown }
trap("INT") { server.shutdown }
server.start
