# smtpsim diff --client smtplib: sends one message with Python's smtplib.
# Arguments: PORT TIMEOUT FROM TO...; the message on stdin.
# Exit 0 when sendmail() returned (recipients it refused are printed), 1 when it raised.
import smtplib
import sys

port, timeout, sender, *recipients = sys.argv[1:]
message = sys.stdin.buffer.read()
try:
    with smtplib.SMTP("127.0.0.1", int(port), local_hostname="ws1.example.org",
                      timeout=float(timeout)) as smtp:
        refused = smtp.sendmail(sender, recipients, message)
    print("sent; refused:", refused)
except Exception as e:  # every failure is the caller being told
    print("raised", type(e).__name__, e)
    sys.exit(1)
