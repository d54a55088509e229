/* The pod sandbox process: holds the pod's namespaces open, reaps orphaned children (it is PID 1
 * when the pod shares its PID namespace) and exits on SIGINT/SIGTERM. Compiled statically with gcc
 * into a FROM-scratch image, because no registry serves registry.k8s.io/pause here. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void leave(int sig) { _exit(0); }

static void reap(int sig) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction stop = {.sa_handler = leave}, child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
    if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0 ||
        sigaction(SIGCHLD, &child, NULL) < 0)
        return 1;
    for (;;)
        pause();
}
