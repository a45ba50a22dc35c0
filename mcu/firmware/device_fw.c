/*
 * mcu/firmware/device_fw.c - a TinyReptile device: the library's device client (csrc/client.c)
 * on a link. It says HELLO, then answers the server's frames as they arrive: receives theta in
 * chunks, draws its own samples (its data never leave it), trains with the model runtime and
 * sends phi back (docs/protocol.md). The same source runs on the Cortex-M4F under QEMU, its
 * UART the link (mcu/port/link_uart.c), and on a host as a process on pipes
 * (mcu/port/link_host.c). Exit status: 0 when the link closed, 2 when the client could not
 * start (its status printed by the port), 3 when a write to the link failed.
 *
 * After every trained round the device logs one line on its console (semihosting on the MCU,
 * stderr on a host; never the link): "round_id N status S stack_used B", B the stack
 * high-water mark since reset (mcu/port/stackmark.h; 0 on a host).
 */
#include <stddef.h>
#include <stdio.h>

#include "device_fw.h"
#include "stackmark.h"

int main(void)
{
    static tr_client client; /* the client's state and frame buffers: about 3 KB */
    uint8_t buf[256];
    tr_link_args args;
    tr_client_config cfg;
    tr_client_port port;
    tr_status st;
    const tr_dev_image *d = &tr_dev;

    tr_port_stack_paint();
    if (tr_link_open(&args) != 0) {
        tr_link_close(TR_ERR_PARAM);
        return 2;
    }
    cfg.model = &d->model;
    cfg.device_id = args.device_id;
    cfg.boot = args.boot;
    cfg.caps = d->caps;
    cfg.params = d->params;
    cfg.arena = d->arena;
    cfg.arena_bytes = d->arena_bytes;
    cfg.x = d->x;
    cfg.target = d->target;
    cfg.labels = d->labels;
    cfg.order = d->order;
    cfg.losses = d->losses;
    cfg.max_k = d->max_k;
    cfg.max_epochs = d->max_epochs;
    cfg.max_steps = d->max_steps;
    port.ctx = (void *)d;
    port.write = tr_link_write;
    port.samples = d->samples;
    st = tr_client_init(&client, &cfg, &port);
    if (st != TR_OK) {
        tr_link_close(st);
        return 2;
    }
    for (;;) {
        uint32_t done = client.rounds_done;
        int32_t n = tr_link_read(buf, (int32_t)sizeof buf);
        if (n < 0) {
            break;
        }
        st = tr_client_feed(&client, buf, n);
        if (st != TR_OK) {
            tr_link_close(st);
            return 3;
        }
        if (client.rounds_done != done) {
            tr_link_log(client.round_id, client.status, (uint32_t)tr_port_stack_used());
        }
    }
    tr_link_close(TR_OK);
    return 0;
}
