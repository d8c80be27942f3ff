#!/bin/sh
# Recomputes the expected signatures of signatures.json with OpenSSL, an
# implementation independent of the Go code under test, and prints one line
# per vector: name, then "v1," and the base64 HMAC-SHA256 of
# "<msgId>.<timestamp>.<body>" keyed with the base64-decoded secret.
# Usage: sh testdata/make-signatures.sh   (needs openssl, base64, xxd)
set -eu
sig() { # name secret-without-prefix msgId timestamp body
	key=$(printf '%s' "$2" | base64 -d | xxd -p -c 1000)
	mac=$(printf '%s.%s.%s' "$3" "$4" "$5" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | base64)
	printf '%s v1,%s\n' "$1" "$mac"
}
sig svix-published MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw msg_p5jXN8AQM9LWM0D4loKWxJek 1614265330 '{"test": 2432232314}'
sig empty-body-zero-ts AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= msg_01ARZ3NDEKTSV4RRFFQ69G5FAV 0 ''
sig unicode-body-no-prefix c2VjcmV0LWtleS1vZi1oZWxwZGVzay1ib3Q= msg_01JD4ZQK8M2V6X3N5P7R9T1W3Y 1763472100 '{"trigger":"after_message","data":{"text":"héllo 👋 <@uid:bot>"}}'
sig padded-key-newline-body AQ== msg_x 1700000000 '{"a":1}
{"b":2}'
sig long-key-negative-ts AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vMPK0djf5u30+wIJEBceJSwzOkFIT1ZdZGtyeYCHjpWc msg_2NqTlZ5KvQ8wHc1pYb3Rx7JmFs -1 'plain text, not JSON'
