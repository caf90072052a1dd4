-- wrk script: POST a message of realistic length to the chat in the URL.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"body":"hey, are we still on for the review at three? I pushed the fix for the flaky test"}'
