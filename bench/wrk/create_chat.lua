-- wrk script: POST a chat to the application in the URL.
wrk.method = "POST"
