package livecounters;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;

/**
 * {@link HoldPolicy} over a script, for the differential test against its specification
 * ({@code tests/unit/jobs/counters/aggregate/test_hold.py}): {@code java livecounters.HoldScript HOLD_MS
 * BEHIND_MS < script > actions}. A line in is {@code offer NOW MAX_TS} or {@code tick NOW};
 * a line out is the action ({@code pass}, {@code hold}, {@code release+pass}) or, for a tick,
 * {@code release} or {@code wait}. Whether truths are held follows from the actions, as in
 * {@code TruthHold}.
 */
public final class HoldScript {

    public static void main(String[] args) throws Exception {
        HoldPolicy policy = new HoldPolicy(Long.parseLong(args[0]), Long.parseLong(args[1]));
        boolean holding = false;
        try (BufferedReader in = new BufferedReader(
                     new InputStreamReader(System.in, StandardCharsets.UTF_8));
             PrintWriter out = new PrintWriter(System.out, false, StandardCharsets.UTF_8)) {
            String line;
            while ((line = in.readLine()) != null) {
                String[] f = line.trim().split(" ");
                long now = Long.parseLong(f[1]);
                if (f[0].equals("offer")) {
                    String action = policy.offer(now, Long.parseLong(f[2]), holding);
                    if (action.equals(HoldPolicy.RELEASE_AND_PASS)) {
                        policy.released(now);
                    }
                    holding = action.equals(HoldPolicy.HOLD);
                    out.println(action);
                } else if (policy.releaseDue(now, holding)) {
                    policy.released(now);
                    holding = false;
                    out.println("release");
                } else {
                    out.println("wait");
                }
            }
        }
    }
}
