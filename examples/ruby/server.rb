# The seed's Ruby app: answers "Hello World" on $PORT, with only the standard library.
require "socket"

server = TCPServer.new("0.0.0.0", Integer(ENV.fetch("PORT", "5000")))
puts "listening on #{server.addr[1]}"
loop do
  client = server.accept
  while (line = client.gets) && line != "\r\n"; end
  body = "Hello World\n"
  client.write "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: #{body.bytesize}\r\nConnection: close\r\n\r\n#{body}"
  client.close
end
