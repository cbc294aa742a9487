# shellcheck shell=bash
# The cloudsync devstack plugin: installs cloudsync, maps a test container
# to a bucket of Swift's own S3 API, puts the cloud shunt in the proxy
# pipeline and runs one sync daemon per container server.
#
# Phases (see devstack's plugin documentation):
#   stack pre-install   check that Swift is enabled
#   stack install       install cloudsync from CLOUDSYNC_DIR
#   stack post-config   write the configuration, add the shunt to the proxy
#                       pipeline (Swift is configured but not started yet)
#   stack extra         create the test container and bucket, start the
#                       daemons
#   unstack             stop the daemons
#   clean               remove the configuration and the progress files
#
# devstack defines DEST, DATA_DIR, SWIFT_CONF_DIR, SERVICE_HOST and the
# functions used here (iniset, iniget, run_process, ...).
# shellcheck disable=SC2154

CLOUDSYNC_XTRACE=$(set +o | grep xtrace)
set +o xtrace

CLOUDSYNC_SWIFT_SERVICES="s-proxy s-account s-container s-object"

function cloudsync_check_swift {
    local service
    for service in $CLOUDSYNC_SWIFT_SERVICES; do
        if ! is_service_enabled "$service"; then
            die $LINENO "cloudsync needs Swift: enable_service $CLOUDSYNC_SWIFT_SERVICES"
        fi
    done
}

function install_cloudsync {
    setup_develop "$CLOUDSYNC_DIR"
}

# The container server configuration files, one per node.
function cloudsync_container_confs {
    local conf
    for conf in "$SWIFT_CONF_DIR"/container-server/*.conf; do
        [[ -f "$conf" ]] && echo "$conf"
    done
}

function cloudsync_node_name {
    basename "$1" .conf
}

function cloudsync_s3_endpoint {
    if [[ -n "$CLOUDSYNC_S3_ENDPOINT" ]]; then
        echo "$CLOUDSYNC_S3_ENDPOINT"
    else
        echo "$SWIFT_SERVICE_PROTOCOL://$SERVICE_HOST:$SWIFT_DEFAULT_BIND_PORT"
    fi
}

# Sets CLOUDSYNC_ACCOUNT, and the S3 credentials unless given.
function cloudsync_credentials {
    local project_id creds
    project_id=$(openstack --os-cloud devstack-admin project show \
        "$CLOUDSYNC_PROJECT" -f value -c id)
    CLOUDSYNC_ACCOUNT="AUTH_$project_id"
    if [[ -z "$CLOUDSYNC_S3_ACCESS_KEY" ]]; then
        creds=$(openstack --os-cloud devstack-admin ec2 credentials create \
            --project "$CLOUDSYNC_PROJECT" --user "$CLOUDSYNC_USER" \
            -f value -c access -c secret)
        CLOUDSYNC_S3_ACCESS_KEY=$(echo "$creds" | sed -n 1p)
        CLOUDSYNC_S3_SECRET_KEY=$(echo "$creds" | sed -n 2p)
    fi
}

function configure_cloudsync {
    local conf node node_conf
    sudo install -d -o "$STACK_USER" -m 0750 "$CLOUDSYNC_CONF_DIR" \
        "$CLOUDSYNC_NODE_CONF_DIR"
    sudo install -d -o "$STACK_USER" "$CLOUDSYNC_STATUS_DIR"
    cloudsync_credentials

    # The file shared by the daemons and the shunt: only what every node
    # agrees on. It holds a secret: mode 0600.
    rm -f "$CLOUDSYNC_CONF"
    touch "$CLOUDSYNC_CONF"
    chmod 0600 "$CLOUDSYNC_CONF"
    iniset "$CLOUDSYNC_CONF" DEFAULT swift_dir "$SWIFT_CONF_DIR"
    iniset "$CLOUDSYNC_CONF" DEFAULT internal_client_conf_path \
        "$SWIFT_CONF_DIR/internal-client.conf"
    iniset "$CLOUDSYNC_CONF" DEFAULT poll_interval 5
    iniset "$CLOUDSYNC_CONF" remote:local-s3api provider \
        "$CLOUDSYNC_REMOTE_PROVIDER"
    iniset "$CLOUDSYNC_CONF" remote:local-s3api endpoint \
        "$(cloudsync_s3_endpoint)"
    iniset "$CLOUDSYNC_CONF" remote:local-s3api access_key \
        "$CLOUDSYNC_S3_ACCESS_KEY"
    iniset "$CLOUDSYNC_CONF" remote:local-s3api secret_key \
        "$CLOUDSYNC_S3_SECRET_KEY"
    if [[ "$CLOUDSYNC_REMOTE_PROVIDER" == "s3" ]]; then
        iniset "$CLOUDSYNC_CONF" remote:local-s3api addressing_style path
    fi
    iniset "$CLOUDSYNC_CONF" mapping:devstack-test account \
        "$CLOUDSYNC_ACCOUNT"
    iniset "$CLOUDSYNC_CONF" mapping:devstack-test container \
        "$CLOUDSYNC_TEST_CONTAINER"
    iniset "$CLOUDSYNC_CONF" mapping:devstack-test remote local-s3api
    iniset "$CLOUDSYNC_CONF" mapping:devstack-test bucket \
        "$CLOUDSYNC_TARGET_BUCKET"

    # One file per container server, read after the shared one.
    for conf in $(cloudsync_container_confs); do
        node=$(cloudsync_node_name "$conf")
        node_conf="$CLOUDSYNC_NODE_CONF_DIR/$node.conf"
        rm -f "$node_conf"
        iniset "$node_conf" DEFAULT devices "$(iniget "$conf" DEFAULT devices)"
        iniset "$node_conf" DEFAULT bind_ip "$(iniget "$conf" DEFAULT bind_ip)"
        iniset "$node_conf" DEFAULT bind_port "$(iniget "$conf" DEFAULT bind_port)"
        iniset "$node_conf" DEFAULT mount_check \
            "$(iniget "$conf" DEFAULT mount_check)"
        iniset "$node_conf" DEFAULT status_dir "$CLOUDSYNC_STATUS_DIR/$node"
    done

    if [[ "$CLOUDSYNC_ENABLE_SHUNT" == "True" ]]; then
        cloudsync_add_shunt "$SWIFT_CONF_DIR/proxy-server.conf"
    fi
}

# Put cloud_shunt right after the last auth filter of the proxy pipeline
# (so that it sees authorized requests), before copy, slo and dlo.
function cloudsync_add_shunt {
    local proxy_conf=$1
    local pipeline filter new="" placed=0
    pipeline=$(iniget "$proxy_conf" pipeline:main pipeline)
    if [[ " $pipeline " == *" cloud_shunt "* ]]; then
        return 0
    fi
    local last_auth=""
    for filter in $pipeline; do
        case $filter in
            keystoneauth|tempauth) last_auth=$filter ;;
        esac
    done
    for filter in $pipeline; do
        if [[ $placed == 0 && -z "$last_auth" && \
              ( $filter == copy || $filter == slo || $filter == dlo ) ]]; then
            new="$new cloud_shunt"
            placed=1
        fi
        new="$new $filter"
        if [[ $placed == 0 && "$filter" == "$last_auth" ]]; then
            new="$new cloud_shunt"
            placed=1
        fi
    done
    if [[ $placed == 0 ]]; then
        die $LINENO "cannot place cloud_shunt in the pipeline: $pipeline"
    fi
    iniset "$proxy_conf" pipeline:main pipeline "${new# }"
    iniset "$proxy_conf" filter:cloud_shunt use "egg:swift-cloudsync#cloud_shunt"
    iniset "$proxy_conf" filter:cloud_shunt conf_file "$CLOUDSYNC_CONF"
}

function cloudsync_daemon_command {
    echo "$(get_python_exec_prefix)/cloudsync-sync --config-file $CLOUDSYNC_CONF --config-file $1"
}

function start_cloudsync {
    local node_conf node
    openstack --os-cloud devstack --os-project-name "$CLOUDSYNC_PROJECT" \
        --os-username "$CLOUDSYNC_USER" container create \
        "$CLOUDSYNC_TEST_CONTAINER" "$CLOUDSYNC_TARGET_BUCKET"
    for node_conf in "$CLOUDSYNC_NODE_CONF_DIR"/*.conf; do
        [[ -f "$node_conf" ]] || continue
        node=$(cloudsync_node_name "$node_conf")
        enable_service "cloudsync-sync-$node"
        run_process "cloudsync-sync-$node" \
            "$(cloudsync_daemon_command "$node_conf")"
    done
}

# unstack.sh runs in a shell of its own, where the per-node services
# enabled by start_cloudsync are not enabled, and devstack's stop_process
# leaves a service that is not enabled alone: enable each one again first.
function stop_cloudsync {
    local node_conf node
    for node_conf in "$CLOUDSYNC_NODE_CONF_DIR"/*.conf; do
        [[ -f "$node_conf" ]] || continue
        node=$(cloudsync_node_name "$node_conf")
        enable_service "cloudsync-sync-$node"
        stop_process "cloudsync-sync-$node"
    done
}

function cleanup_cloudsync {
    sudo rm -rf "$CLOUDSYNC_CONF_DIR" "$CLOUDSYNC_STATUS_DIR"
}

if is_service_enabled cloudsync; then
    if [[ "$1" == "stack" && "$2" == "pre-install" ]]; then
        echo_summary "Checking that Swift is enabled for cloudsync"
        cloudsync_check_swift
    elif [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing cloudsync"
        install_cloudsync
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring cloudsync"
        configure_cloudsync
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Starting cloudsync"
        start_cloudsync
    fi

    if [[ "$1" == "unstack" ]]; then
        stop_cloudsync
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_cloudsync
    fi
fi

$CLOUDSYNC_XTRACE
